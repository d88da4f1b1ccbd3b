"""Placeholder until the healthmonitors resource lands."""
from flask_smorest import Blueprint

blp = Blueprint("healthmonitors", __name__, description="healthmonitors")
