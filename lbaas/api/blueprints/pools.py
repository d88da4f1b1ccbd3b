"""Placeholder until the pools resource lands."""
from flask_smorest import Blueprint

blp = Blueprint("pools", __name__, description="pools")
