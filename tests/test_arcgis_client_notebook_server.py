"""The official ArcGIS API for Python, unmodified, against the standalone Notebook Server
flavour in this process: through the Portal's server listing to ``gis.notebook_server[0]``
and its runtime manager, as a user of a non-Kubernetes ArcGIS Enterprise would.
"""

from __future__ import annotations

import json

import pytest

from mockserver import create_app
from mockserver.core.clock import Clock
from mockserver.notebookserver.releases import ADVANCED_ID, STANDARD_ID
from tests.arcgis_client import GIS, FlaskTransport

URL = "https://nbmock.test/arcgis"
IMAGE = "sha256:" + "c0" * 32


@pytest.fixture
def transport() -> FlaskTransport:
    return FlaskTransport(create_app(flavour="notebook-server", clock=Clock()))


@pytest.fixture
def gis(transport):
    return GIS(URL, "admin", "admin1234", adapter={"https://": transport})


@pytest.fixture
def manager(gis):
    return gis.notebook_server[0].notebooks.runtime_manager


def by_name(manager) -> dict[str, object]:
    return {runtime.properties["name"]: runtime for runtime in manager.runtimes}


def test_the_client_finds_a_notebook_server_through_the_portal(gis, transport):
    from arcgis.gis.nb import NotebookServer

    assert gis._is_kubernetes is False
    [server] = gis.notebook_server
    assert isinstance(server, NotebookServer)
    assert server.url == f"{URL}/admin"
    assert server.version == [11, 5]
    paths = [path for _method, path, _type in transport.requests]
    assert "/arcgis/sharing/rest/portals/0123456789ABCDEF/servers" in paths


def test_notebooks_runtimes_lists_esris_runtimes(gis, manager):
    # NotebookManager.runtimes is deprecated in 2.4.2 but still what scripts call [client].
    with pytest.warns(DeprecationWarning):
        listed = list(gis.notebook_server[0].notebooks.runtimes)
    assert [runtime.properties["id"] for runtime in listed] == [STANDARD_ID, ADVANCED_ID]
    assert manager.current_runtime_version == "12.0"


def test_add_registers_a_runtime_from_the_clients_configuration(manager, transport):
    from arcgis.gis.nb._nbm import RuntimeConfiguration

    added = manager.add(
        RuntimeConfiguration(
            name="Custom GPU Python 3",
            imageId=IMAGE,
            maxCPU=4,
            maxMemory=16,
            docker_runtime="nvidia",
            requires_advanced_privileges=False,
        )
    )
    properties = added.properties
    assert (properties["name"], properties["imageId"]) == ("Custom GPU Python 3", IMAGE)
    assert (properties["maxCpu"], properties["maxMemory"], properties["maxSwapMemory"]) == (
        4,
        16,
        32,
    )
    assert properties["useGPU"] is True
    assert properties["esriProvidedRuntime"] is False
    assert "Custom GPU Python 3" in by_name(manager)
    method, _path, content_type = next(
        entry for entry in transport.requests if entry[1].endswith("/register")
    )
    assert (method, content_type.split(";")[0]) == ("POST", "multipart/form-data")


def test_add_with_a_manifest_file_uploads_it(manager, tmp_path):
    from arcgis.gis.nb._nbm import RuntimeConfiguration

    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps([{"name": "rasterio", "version": "1.4.3"}]))
    added = manager.add(
        RuntimeConfiguration(
            name="With manifest", imageId=IMAGE, maxCPU=1, maxMemory=2, manifestFile=str(manifest)
        )
    )
    assert [(row["name"], row["version"]) for row in added.manifest] == [("rasterio", "1.4.3")]


def test_update_with_a_manifest_then_manifest_shows_it(manager, tmp_path):
    standard = by_name(manager)["ArcGIS Notebook Python 3 Standard"]
    manifest = tmp_path / "libraries.json"
    manifest.write_text(json.dumps({"libraries": [{"name": "shapely", "version": "2.0.6"}]}))
    assert standard.update(max_cpu=3.0, max_memory=7, manifest=str(manifest)) is True
    again = by_name(manager)["ArcGIS Notebook Python 3 Standard"]
    assert (again.properties["maxCpu"], again.properties["maxMemory"]) == (3, 7)
    assert again.properties["maxSwapMemory"] == 14
    assert [(row["name"], row["version"]) for row in again.manifest] == [("shapely", "2.0.6")]


def test_manifest_of_an_esri_runtime_lists_its_libraries(manager):
    libraries = {
        row["name"] for row in by_name(manager)["ArcGIS Notebook Python 3 Advanced"].manifest
    }
    assert {"arcgis", "python"} <= libraries


def test_a_refused_update_returns_the_error_and_changes_nothing(manager):
    standard = by_name(manager)["ArcGIS Notebook Python 3 Standard"]
    # An admin error envelope has "status": the client answers False [client].
    assert standard.update(memory_unit="tb") is False
    assert by_name(manager)["ArcGIS Notebook Python 3 Standard"].properties["maxMemoryUnit"] == "g"


def test_delete_unregisters_a_registered_runtime_but_not_esris(manager):
    from arcgis.gis.nb._nbm import RuntimeConfiguration

    added = manager.add(
        RuntimeConfiguration(name="Temporary", imageId=IMAGE, maxCPU=1, maxMemory=2)
    )
    assert added.delete() is True
    assert "Temporary" not in by_name(manager)
    assert by_name(manager)["ArcGIS Notebook Python 3 Standard"].delete() is False


def test_restore_brings_back_the_factory_runtimes(manager):
    from arcgis.gis.nb._nbm import RuntimeConfiguration

    manager.add(
        RuntimeConfiguration(name="Gone after restore", imageId=IMAGE, maxCPU=1, maxMemory=2)
    )
    assert manager.restore() is True
    assert list(by_name(manager)) == [
        "ArcGIS Notebook Python 3 Standard",
        "ArcGIS Notebook Python 3 Advanced",
    ]


def test_validate_reports_each_runtime_on_the_machine(manager):
    answer = manager.validate()
    assert answer["status"] == "success"
    rows = answer["machines"][0]["notebookRuntimes"]
    assert {row["notebookRuntimeName"] for row in rows} == {
        "ArcGIS Notebook Python 3 Standard",
        "ArcGIS Notebook Python 3 Advanced",
    }
