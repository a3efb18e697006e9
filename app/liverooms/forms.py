"""The form a streamer uses to add or edit a live room."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, URLField
from wtforms.validators import DataRequired, Length

from app.liverooms.models import Platform
from app.liverooms.services import platform_label

_required = DataRequired(message=_l("This field is required."))


class LiveRoomForm(FlaskForm):
    platform = SelectField(_l("Platform"), choices=[], validators=[_required])
    url = URLField(
        _l("Room address"),
        validators=[_required, Length(max=500)],
        description=_l("The full address of your live room, starting with https://."),
        render_kw={"placeholder": "https://live.douyin.com/123456", "inputmode": "url"},
    )
    title = StringField(_l("Title"), validators=[_required, Length(max=120)], render_kw={"placeholder": _l("Night studio")})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # labels are translated per request, so they follow the page language
        self.platform.choices = [(platform.value, platform_label(platform)) for platform in Platform]
