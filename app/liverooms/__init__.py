"""Live rooms: where streamers go live; linked from listings and storefronts."""


def init_app(app) -> None:
    from app.liverooms import api, models, views  # noqa: F401  (models: the tables must be known to create_all and Alembic)

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
