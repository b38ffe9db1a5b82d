"""The directory's forms for the workload's operations: pure data, judged by model.py."""

from __future__ import annotations

from mockserver.web.forms import JSON, SELECT, Field

#: An empty choice leaves the flag to the server's default.
FLAG = ("", "true", "false")

#: [doc: openNotebook] itemId, templateId, notebookRuntimeId, templateNotebook.
OPEN = (
    Field("itemId", required=True, placeholder="the notebook item's id"),
    Field("notebookRuntimeId", placeholder="empty: the Standard runtime"),
    Field("templateId"),
    Field("templateNotebook"),
)
#: [doc: executeNotebook] itemId, updatePortalItem, notebookParameters, saveInjectedParameters.
EXECUTE = (
    Field("itemId", required=True, placeholder="the notebook item's id"),
    Field("updatePortalItem", SELECT, FLAG),
    Field("notebookParameters", JSON, placeholder='{"name": "value"}'),
    Field("saveInjectedParameters", SELECT, FLAG),
)
#: [doc: server-properties-update] one parameter, the properties to set as a JSON object.
PROPERTIES = (
    Field("properties", JSON, required=True, placeholder='{"idleNotebookThreshold": 720}'),
)
