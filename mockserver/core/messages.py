"""Every message the emulated API answers with, and where its wording comes from.

- [doc] quoted from Esri's documentation;
- [capture] seen in captures of real ArcGIS servers (community posts);
- [inferred] our wording: the code beside it is what a client should rely on,
  and docs/FIDELITY.md lists the kit check that compares it with a real server.

Templates take their values with ``str.format``.
"""

from __future__ import annotations

# --- tokens and privileges ------------------------------------------------------

TOKEN_REQUIRED = (  # [doc] code 499
    "Unauthorized access. Token not found. "
    "You can generate a token using the 'generateToken' operation."
)
#: Code 498 on the admin API [capture: ArcGIS Server admin API, jstuart/puppet-arcgis]: one
#: message, the reason. A token used outside its referer or IP binding: INVALID_TOKEN [inferred].
TOKEN_EXPIRED = "Token Expired."
TOKEN_NOT_DECRYPTED = "Could not decrypt token. Token may not be valid."
INVALID_TOKEN = "Invalid token."  # [capture] Portal and ArcGIS Online, code 498
NOT_PERMITTED = (  # [capture] Portal wording (ArcGIS Online fixtures); admin API code 403 [inferred]
    "You do not have permissions to access this resource or perform this operation."
)

# --- the Portal's own forms: (message, messageCode or None, details) -----------------
# The sharing API words its refusals differently from the admin API. Sources: Esri's
# JavaScript client fixtures (Esri/arcgis-rest-js packages/arcgis-rest-request/test/mocks/
# errors.ts) and captures of ArcGIS Online; not seen from an Enterprise on Kubernetes portal.

#: [capture] 499 ("ArcGISServerTokenRequired" in arcgis-rest-js; ArcGIS Online hosted services).
PORTAL_TOKEN_REQUIRED = ("Token Required", "GWM_0003", ("Token Required",))
#: [capture] 498 without messageCode (arcgis-rest-js "ArcGISOnlineAuthError").
PORTAL_INVALID_TOKEN = (INVALID_TOKEN, None, ())
#: [capture] 403 with GWM_0003 (an Esri solution.js fixture of sharing/rest/community/createGroup;
#: arcgis-rest-js keeps the same answer without messageCode to test that path).
PORTAL_NOT_PERMITTED = (NOT_PERMITTED, "GWM_0003", ())
#: [capture] 405 of Portal 10.3's sharing API (quoted in Esri's Web AppBuilder source).
PORTAL_METHOD_NOT_SUPPORTED = ("Method not supported.", "GWM_0005", ())

# --- generateToken ----------------------------------------------------------------

UNABLE_TO_GENERATE_TOKEN = "Unable to generate token."  # [capture]
INVALID_CREDENTIALS = "Invalid username or password."  # [capture]
BAD_CLIENT = "'client' must be one of referer, ip, requestip."  # [inferred]
BAD_EXPIRATION = "'expiration' must be a number of minutes."  # [inferred]
EXPIRATION_NOT_POSITIVE = "'expiration' must be positive."  # [inferred]
CREDENTIALS_REQUIRED = "'username' and 'password' are required."  # [inferred]
#: [inferred] a token exchange (serverUrl and token) for a server the Portal does not federate.
NOT_A_FEDERATED_SERVER = "'serverUrl' is not a server federated with this portal."
ACCOUNT_LOCKED = (  # [inferred] wording; the lockout itself: mockserver/auth/lockout.py
    "Too many invalid sign-in attempts. The account is locked; try again later."
)

# --- OAuth sign-in pages and Portal resources ---------------------------------------

# A failed sign-in page says INVALID_CREDENTIALS, the words the official client looks for [client].
SIGNIN_EXPIRED_STATE = "Your sign-in page has expired or is not valid. Sign in again."  # [inferred]
# --- the HTML directory's sign-in page [inferred: wording ours] -----------------------

SIGN_IN_AGAIN = "Your sign-in has expired or is not valid. Sign in again."
SIGN_IN_AS_SOMEONE_ELSE = (
    "You are signed in as a user without permission for that page. Sign in as someone else."
)
OPERATION_NOT_OFFERED = "'{name}' is not offered for runtime '{id}'."
#: What the page a browser is sent to after a successful form says, by what was done.
DONE = {
    "created": "Runtime '{name}' created.",
    "updated": "Runtime '{name}' updated.",
    "upgraded": "Runtime '{name}' upgraded.",
    "unregistered": "Runtime '{name}' unregistered.",
    # The standalone server's writes (N23) [inferred].
    "registered": "Runtime '{name}' registered.",
    "restored": "Esri's runtimes restored; registered runtimes removed.",
    # Notebooks at work (docs/FIDELITY.md J31): the directory's own words [inferred].
    "closed": "Notebook '{name}' closed.",
    "deploymentTerminated": "Deployment '{name}' terminated; its notebooks are closed.",
    "containerTerminated": "Container '{name}' terminated; its notebooks are closed.",
    "submitted": "Job '{name}' submitted.",
    "propertiesUpdated": "Notebook Server properties updated.",
}
OAUTH_INVALID_CLIENT = "Invalid client_id"  # [client] looks for these words
OAUTH_INVALID_REDIRECT = "Invalid redirect_uri"  # [client]
OAUTH_UNSUPPORTED_RESPONSE_TYPE = (  # [inferred]
    "Unsupported response_type; this portal serves response_type=token."
)
USER_NOT_FOUND = "User not found."  # [inferred] code 400
PORTAL_NOT_FOUND = "Portal '{id}' does not exist."  # [inferred] code 404

# --- request parameters [inferred], code 400 -----------------------------------------

REQUIRED = "'{name}' is required."
NOT_A_NUMBER = "Invalid value for '{name}': '{value}' is not a number."
OUT_OF_RANGE = "Invalid value for '{name}': '{value}' is out of range."
NOT_POSITIVE = "Invalid value for '{name}': it must be greater than 0."
NEGATIVE = "Invalid value for '{name}': it must not be negative."
BAD_UNIT = "Invalid value for '{name}': '{value}'. Valid values are {units}."
NOT_AN_OBJECT = "Invalid value for '{name}': it must be a JSON object."
JSON_NOT_UNICODE = (
    "Invalid value for '{name}': it holds text that is not valid Unicode "
    "(a lone surrogate escape such as \\ud800)."
)
JSON_TOO_DEEP = "Invalid value for '{name}': JSON nested deeper than {depth} levels."
JSON_TOO_LARGE = "Invalid value for '{name}': more than {limit} bytes as JSON."
NAME_TOO_LONG = "Invalid value for 'name': longer than {limit} characters."
NAME_CONTROL_CHARACTER = "Invalid value for 'name': it must not contain control characters."
NAME_INVISIBLE = "Invalid value for 'name': it has no visible character."
MIN_ABOVE_MAX = "'{low}' must not be greater than '{high}'."
BAD_FORMAT = "Invalid value for 'f'. Valid values are html, json, pjson."
NOT_UTF8 = "Request parameters must be UTF-8 encoded."
MULTIPART_WITHOUT_BOUNDARY = "Malformed multipart/form-data body: no boundary."
MALFORMED_MULTIPART = "Malformed multipart/form-data body."
BODY_TOO_LARGE = "Request body exceeds the limit of {limit} bytes."  # code 413

# --- request framing [inferred]: bodies the server decodes (chunked) or splits ----------

TOO_MANY_PARTS = (  # HTTP 413, code 413
    "Request body has more than {parts} parameters or multipart parts."
)
MALFORMED_CHUNKED = "Malformed chunked request body."  # code 400
UNSUPPORTED_TRANSFER_CODING = (  # code 400
    "Transfer-Encoding '{coding}' is not supported: send the body chunked or with Content-Length."
)
BODY_SHORT = "The request body ended after {size} of its {declared} bytes (Content-Length)."  # 400
BODY_INCOMPLETE = "The request body stopped arriving before its end."  # code 408
# --- the state file (nbmock's own, not ArcGIS): log lines, health and HTTP 503 ------------

STATE_FILE_GONE = (
    "state file {path} no longer exists (deleted since nbmock serve started); "
    "refusing to start a worker on a fresh database beside the running ones: restart nbmock serve"
)
STATE_FILE_REPLACED = (
    "state file {path} is not the database nbmock serve started on (replaced since); "
    "refusing to serve a second state beside the running workers: restart nbmock serve"
)
STATE_FILE_UNREADABLE = "state file {path} is not a readable SQLite database ({error})"
STATE_FILE_NOT_WRITABLE = "state file {path} cannot be written ({error}); changes are refused"
STATE_UNAVAILABLE = (  # code 503
    "The emulator cannot write its state file; see the server log. Nothing was changed."
)
HOST_NOT_ALLOWED = (  # HTTP 400: nbmock's guard against DNS rebinding, not ArcGIS
    "Host '{host}' is not a name this emulator serves. "
    "Start nbmock serve with --public-url to add it."
)
CROSS_SITE_REFUSED = (  # emulator design, code 403: a browser's cross-site form post
    "Cross-site requests are not accepted: post from the emulator's own pages, "
    "or from a client that sends no Origin."
)

# --- resources and operations -----------------------------------------------------

NO_SUCH_RESOURCE = (  # [inferred] ArcGIS Server's wording, code 404
    "Could not find resource or operation '{name}' on the system."
)
METHOD_NOT_SUPPORTED = "Method {method} is not supported by this resource."  # [inferred] 405
RUNTIME_NOT_FOUND = "Notebook runtime '{id}' does not exist."  # [inferred] code 404
COPY_OF_COPY = (  # [inferred] code 400
    "Runtime '{id}' is a user-created runtime; only system runtimes can be copied."
)
SYSTEM_NOT_UNREGISTERABLE = (  # [inferred] code 400
    "Runtime '{id}' is a system runtime provided by Esri and cannot be unregistered."
)
SYSTEM_NOT_UPGRADABLE = (  # [inferred] code 400
    "Runtime '{id}' is a system runtime; only copied runtimes can be upgraded."
)
ALREADY_CURRENT = (  # [inferred] code 400
    "Runtime '{id}' is already at the current runtime version {version}."
)
MANIFEST_NOT_JSON = (  # [inferred] code 400
    "Invalid value for '{name}': the file is not JSON in UTF-8."
)
MANIFEST_NOT_A_LIST = (  # [inferred] code 400
    "Invalid value for '{name}': expected a manifest {{\"libraries\": [...]}}"
    " or the output of 'conda list --json', with at least one library."
)
MANIFEST_TOO_LONG = "Invalid value for '{name}': more than {limit} libraries."  # [inferred] 400
MANIFEST_BAD_LIBRARY = (  # [inferred] code 400
    "Invalid value for '{name}': library {index} needs a 'name' and a 'version'."
)
COUNTER_EXHAUSTED = (  # emulator limit, code 500: only an imported state can get here
    "The emulator's {counter} has reached its limit; reset it (POST /__mock__/reset)."
)
INTERNAL_ERROR = "Internal error in the emulator."  # a bug of ours, HTTP 500
#: emulator design (FIDELITY S14), code 503 and HTTP 503: the PostgreSQL state cannot be reached.
STATE_DATABASE_UNAVAILABLE = (
    "The emulator's state database is unavailable; try again when it is back."
)
STATE_DATABASE_UNREACHABLE = "the state database {url} is unreachable: {error}"

# --- the notebooks workload (mockserver/workload) [inferred] wording ------------------------

NOTEBOOK_NOT_FOUND = "Notebook '{id}' does not exist or is not open."  # [inferred] code 404
DEPLOYMENT_NOT_FOUND = "Notebook deployment '{id}' does not exist."  # [inferred] code 404
JOB_NOT_FOUND = "Job '{id}' does not exist."  # [inferred] code 404
ITEM_NOT_A_NOTEBOOK = "Item '{id}' does not exist or is not a notebook."  # [inferred] code 400
#: [capture] the sharing API's content/items/<id> for an unknown item (the official client
#: looks for these words: arcgis/gis/__init__.py ContentManager.get).
ITEM_INACCESSIBLE = ("Item does not exist or is inaccessible.", "CONT_0001", ())
RUNTIME_UNAVAILABLE = (  # [inferred] code 400
    "Notebook runtime '{id}' does not exist or is not available for opening notebooks."
)
RUNTIME_NEEDS_ADVANCED = (  # [inferred] code 403: the runtime's requiresAdvancedPrivileges
    "Notebook runtime '{id}' requires the Advanced Notebooks privilege."
)
RUNTIME_IN_USE = (  # [inferred] code 400: see docs/FIDELITY.md (unregister while in use)
    "Runtime '{id}' is in use by {count} open notebook(s); close them before unregistering it."
)
NOT_A_BOOLEAN = "Invalid value for '{name}': '{value}' is not true or false."  # [inferred]
NOT_JSON_OBJECT_TEXT = (  # [inferred] code 400
    "Invalid value for '{name}': it must be a JSON object of parameter names and values."
)
NOT_AN_INTEGER = "Invalid value for '{name}': '{value}' is not a whole number."  # [inferred]
UNKNOWN_PROPERTY = "Unknown property '{name}'."  # [inferred] code 400
EXECUTION_TIMED_OUT = (  # [inferred] the job's message when it passes maxExecuteNotebookTimeMinutes
    "The notebook execution exceeded the maximum execution time of {minutes} minutes."
)

# --- the standalone Notebook Server's runtimes (mockserver/notebookserver/) -------------
# Codes are 400 unless noted; wording [inferred] in the admin API's style above.

NOT_A_FLAG = "Invalid value for '{name}': '{value}'. Valid values are true, false."
BAD_CONTAINER_TYPE = "Invalid value for 'containerType': '{value}'. The only valid value is docker."
BAD_IMAGE_ID = (
    "Invalid value for 'imageId': '{value}' is not a full Docker image ID "
    "(64 hexadecimal characters, optionally after 'sha256:')."
)
BAD_DOCKER_RUNTIME = "Invalid value for 'dockerRuntime': '{value}' is not a Docker runtime name."
BAD_TEXT = "Invalid value for '{name}': it must be printable text of at most {limit} characters."
SWAP_BELOW_MEMORY = "'maxSwapMemory' must not be less than 'maxMemory'."
ESRI_RUNTIME_NOT_UNREGISTERABLE = (
    "Runtime '{id}' is provided by Esri and cannot be unregistered; use restore instead."
)
