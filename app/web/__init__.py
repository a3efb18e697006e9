"""The web shell: base layout, home page, language switch, media files, health check, error pages."""


def init_app(app) -> None:
    from app.web import views

    app.register_blueprint(views.bp)
