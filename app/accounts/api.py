from apiflask import APIBlueprint

bp = APIBlueprint("accounts_api", __name__, url_prefix="/api/v1", tag="Accounts")
