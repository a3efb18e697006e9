"""The catalog: listings, the review workflow, public pages and the listings API."""


def init_app(app) -> None:
    from marketplace.catalog import api, views

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
