"""Wire-level safety nets: a bug anywhere is reported as one, never dressed as an answer."""

from __future__ import annotations

from mockserver import create_app


def test_an_exception_outside_a_view_is_http_500_in_the_envelope():
    app = create_app()

    @app.after_request
    def broken(response):
        raise RuntimeError("a bug in a hook")

    response = app.test_client().get("/arcgis/sharing/rest/info?f=json")
    assert response.status_code == 500
    assert response.get_json(force=True)["error"]["code"] == 500
    assert "a bug in a hook" not in response.get_data(as_text=True)


def test_an_exception_in_a_view_is_http_500_without_a_stack_trace():
    app = create_app()

    @app.get("/arcgis/admin/boom")
    def boom():
        raise KeyError("secret-ish detail")

    response = app.test_client().get("/arcgis/admin/boom?f=json")
    assert response.status_code == 500
    assert response.get_json(force=True) == {
        "status": "error",
        "messages": ["Internal error in the emulator."],
        "code": 500,
    }
