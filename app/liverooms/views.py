from flask import Blueprint

bp = Blueprint("liverooms", __name__, template_folder="templates")
