"""The download endpoint behind every signed link, for the browser and API clients alike.

Every attempt is logged and committed before the answer, refusals included. Local files are sent by the app
(Range requests work, gunicorn uses sendfile); files in S3 redirect to a presigned URL as short-lived as the link.
"""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from app.accounts.services import user_for_token
from app.api.errors import problem
from app.extensions import db, limiter
from app.storage import get_storage
from marketplace.downloads import services
from marketplace.kinds import DownloadableFile

bp = Blueprint("downloads", __name__, template_folder="templates")

#: a downloaded file must never run as a page of this site, whatever its content
SANDBOX_POLICY = "default-src 'none'; sandbox"


def _requesting_user():
    """The signed-in browser user, or the owner of a bearer token sent by an API client."""
    if current_user.is_authenticated:
        return current_user._get_current_object()
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return user_for_token(header[len("Bearer "):].strip())
    return None


def _wants_json() -> bool:
    if request.headers.get("Authorization"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json", "application/problem+json"])
    return best in ("application/json", "application/problem+json")


def _refusal(decision: services.Decision):
    if _wants_json():
        headers = {"WWW-Authenticate": 'Bearer realm="encore"'} if decision.status == 401 else None
        titles = {401: "Unauthorized", 403: "Forbidden", 410: "Gone"}
        return problem(decision.status, titles.get(decision.status, "Error"), decision.message, headers=headers)
    if decision.status == 401:
        return redirect(url_for("accounts.login", next=request.full_path))
    return render_template("errors.html", status=decision.status, title=decision.message, detail=None), decision.status


def _send(file: DownloadableFile):
    storage = get_storage()
    path = storage.local_path(file.key)
    if path is None:
        seconds = current_app.config["ENCORE_DOWNLOAD_LINK_SECONDS"]
        response = redirect(storage.download_url(file.key, file.name, file.content_type, seconds), code=302)
    else:
        response = send_file(path, mimetype=file.content_type, as_attachment=True, download_name=file.name,
                             conditional=True, etag=True, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = SANDBOX_POLICY
    response.headers["Cache-Control"] = "private, no-store"
    return response


# a path converter, so that a traversal attempt (../) reaches the checks and is logged instead of missing the route
@bp.get("/downloads/<int:entitlement_id>/<path:file_ref>")
@limiter.exempt
def download(entitlement_id: int, file_ref: str):
    user = _requesting_user()
    byte_range = request.headers.get("Range")
    decision = services.decide(user, entitlement_id, file_ref, request.args.get("t"), byte_range)
    services.log_attempt(decision, user, entitlement_id, file_ref, request.remote_addr, byte_range)
    if not decision.allowed:
        db.session.commit()
        return _refusal(decision)
    file = services.file_to_serve(decision.entitlement, decision.file, get_storage())
    db.session.commit()
    return _send(file)


# ---------------------------------------------------------------- pages (filled in by the pages work)

@bp.get("/library")
def library_page():
    from flask_login import login_required  # noqa: F401

    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login", next=request.full_path))
    return render_template("downloads/library.html", items=services.library(current_user), download_url=services.download_url)
