"""The interactive API page (/docs) served whole from the installed package: Swagger UI's script, style and
icon come from `swagger-ui-bundle` (PyPI), not from a CDN, so the page works on a machine with no
internet. ReDoc has no offline bundle on PyPI, so /redoc is not served."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.exceptions import HTTPException

ASSETS = {
    "swagger-ui-bundle.js": "application/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/openapi.json", *(f"/docs/{name}" for name in ASSETS)})


def add_offline_docs(app: FastAPI) -> None:
    @app.get("/docs", include_in_schema=False)
    async def swagger_page() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} - API",
            swagger_js_url="/docs/swagger-ui-bundle.js",
            swagger_css_url="/docs/swagger-ui.css",
            swagger_favicon_url="/docs/favicon-32x32.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/docs/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        if name not in ASSETS:
            raise HTTPException(404, f"no documentation asset {name!r}")
        from swagger_ui_bundle import swagger_ui_path

        return FileResponse(
            str(swagger_ui_path / name), media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=86400"}
        )
