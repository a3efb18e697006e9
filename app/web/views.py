"""Pages and endpoints that belong to no domain."""
from __future__ import annotations

import mimetypes

from flask import Blueprint, abort, current_app, jsonify, redirect, request, send_file, session, url_for
from flask_login import current_user
from sqlalchemy import text

from app.extensions import csrf, db
from app.security import safe_local_path
from app.storage import get_storage, is_public_key
from app.tasks import broker_status

bp = Blueprint("web", __name__)


@bp.get("/media/<path:key>")
def media(key: str):
    """Public files (covers, avatars, sticker previews); private/ keys answer 404 like unknown ones."""
    if not is_public_key(key):
        abort(404)
    storage = get_storage()
    mimetype = mimetypes.guess_type(key)[0] or "application/octet-stream"
    path = storage.local_path(key)
    if path is not None:
        if not path.is_file():
            abort(404)
        response = send_file(path, mimetype=mimetype)  # by path: sendfile, Content-Length and Range requests
    else:
        # S3: served through the app rather than redirected to a presigned URL. A presigned URL changes with every
        # signature, so browsers and a CDN could never cache the image, while /media/<key> is stable and immutable;
        # the bucket and its endpoint also stay private (an internal MinIO need not be reachable by browsers).
        # Public media are small images; large private files leave through download_url instead.
        try:
            stored = storage.open(key)
        except FileNotFoundError:
            abort(404)
        response = send_file(stored, mimetype=mimetype, etag=key)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"  # keys are never reused
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/language")
def set_language():
    locale = request.form.get("locale", "")
    if locale in current_app.config["ENCORE_LOCALES"]:
        session["locale"] = locale
        if current_user.is_authenticated:
            current_user.locale = locale
            db.session.commit()
    return redirect(safe_local_path(request.form.get("next")) or url_for("catalog.home"))


@bp.get("/healthz")
@csrf.exempt
def healthz():
    """Liveness for load balancers: 200 while the database answers, 503 when it does not."""
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:  # the probe reports, it does not raise
        db.session.rollback()
        database = f"unavailable: {type(exc).__name__}"
    broker = broker_status(current_app)
    # the web app cannot serve without its database; a broker outage only delays background work
    status = 200 if database == "ok" else 503
    response = jsonify({"status": "ok" if status == 200 else "unavailable", "database": database, "broker": broker})
    response.headers["Cache-Control"] = "no-store"
    return response, status
