from fastapi import APIRouter

router = APIRouter()  # admin routes under /api/v1
public_router = APIRouter()  # routes outside /api/v1
