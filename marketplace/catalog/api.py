from apiflask import APIBlueprint

bp = APIBlueprint("catalog_api", __name__, url_prefix="/api/v1", tag="Listings")
