"""Live rooms: where streamers go live; linked from listings and storefronts."""


def init_app(app) -> None:
    from app.liverooms import api, views

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
