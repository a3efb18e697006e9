"""The catalog: listings, the review workflow, public pages and the listings API."""


def init_app(app) -> None:
    from marketplace.catalog import api, models, views  # noqa: F401  (models: the tables must be known to create_all and Alembic)
    from marketplace.demo import seed_demo_command

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    app.cli.add_command(seed_demo_command)
