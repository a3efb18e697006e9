from apiflask import APIBlueprint

bp = APIBlueprint("liverooms_api", __name__, url_prefix="/api/v1", tag="Live rooms")
