"""Forms for the login, registration and settings pages.

The forms check only what a browser needs answered at once (required fields, matching passwords);
the rules themselves live in app.accounts.services, whose ValidationFailed errors the views put
next to the right field with `apply_errors`.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from app.errors import ValidationFailed
from app.i18n import LANGUAGE_NAMES
from app.security import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

_required = DataRequired(message=_l("This field is required."))
_email = Email(message=_l("Enter a valid email address."), check_deliverability=False)
#: the same bounds as the service, checked here too so every bad field is named in one answer
_password_length = [
    Length(min=MIN_PASSWORD_LENGTH, message=_l("Use at least %(min)d characters.")),
    Length(max=MAX_PASSWORD_LENGTH, message=_l("Must be at most %(max)d characters.")),
]


class RegisterForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[_required, _email], render_kw={"autocomplete": "email"})
    display_name = StringField(
        _l("Display name"),
        validators=[_required, Length(max=80)],
        description=_l("Shown to other people on Encore."),
        render_kw={"autocomplete": "nickname"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[_required, *_password_length],
        description=_l("At least 8 characters."),
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[_required, EqualTo("password", message=_l("The passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[_required], render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Password"), validators=[_required], render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class ProfileForm(FlaskForm):
    display_name = StringField(_l("Display name"), validators=[_required, Length(max=80)])
    locale = SelectField(_l("Language"), choices=[], validate_choice=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.locale.choices = [("", _l("Follow my browser"))] + list(LANGUAGE_NAMES.items())


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"), validators=[_required], render_kw={"autocomplete": "current-password"}
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[_required, *_password_length],
        description=_l("At least 8 characters. Your other sessions will be signed out."),
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[_required, EqualTo("new_password", message=_l("The passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )


class BecomeStreamerForm(FlaskForm):
    handle = StringField(
        _l("Handle"),
        validators=[_required],
        description=_l("3 to 30 lower-case letters, digits or underscores; your storefront will be at /@handle."),
        render_kw={"autocapitalize": "none", "spellcheck": "false", "autocomplete": "off"},
    )
    display_name = StringField(_l("Streamer name"), validators=[_required, Length(max=80)])
    bio = TextAreaField(_l("About you"), validators=[Length(max=2000)], render_kw={"rows": 4})


class CreatorProfileForm(FlaskForm):
    display_name = StringField(_l("Streamer name"), validators=[_required, Length(max=80)])
    bio = TextAreaField(_l("About you"), validators=[Length(max=2000)], render_kw={"rows": 4})


class AvatarForm(FlaskForm):
    avatar = FileField(
        _l("New image"),
        validators=[FileRequired(message=_l("Choose an image to upload."))],
        description=_l("A PNG, JPEG, WebP or GIF image; it is cropped to a square."),
        render_kw={"accept": "image/png,image/jpeg,image/webp,image/gif"},
    )


class ApiTokenForm(FlaskForm):
    name = StringField(
        _l("Token name"),
        validators=[_required, Length(max=80)],
        description=_l("So you can tell your tokens apart, e.g. “OBS overlay”."),
    )


class ConfirmForm(FlaskForm):
    """A form with only the CSRF token, for buttons that change something (revoke, log out)."""


def apply_errors(form: FlaskForm, error: ValidationFailed, rename: dict[str, str] | None = None) -> None:
    """Show a service's field errors next to the form's fields; errors for unknown fields go on top."""
    rename = rename or {}
    for name, messages in error.errors.items():
        field = getattr(form, rename.get(name, name), None)
        if field is not None and hasattr(field, "errors") and name != "meta":
            field.errors = list(field.errors) + list(messages)
        else:
            form.form_errors.extend(messages)
