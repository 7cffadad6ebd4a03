"""drf-spectacular support: the bulk endpoints documented with their real request and answer
shapes.

``BulkDRFConfig.ready()`` imports this package when drf-spectacular is installed. Its view
extensions swap in schema classes for every ``BulkOperationsMixin`` viewset and for the operation
views, so a project that lists ``drf_spectacular`` gets correct documents without touching its
viewsets. They also repair what adrf's action names (``alist``, ``acreate``) hide from
drf-spectacular: the list answer is an array, and each list-level method gets its own operation
id.

- ``components``: the shared answer bodies (``202``, errors, operation status) as components;
- ``viewset``: the schema of a bulk viewset, read from the declarations in ``actions``;
- ``operation_views``: the schema of the operation status, results and cancel views;
- ``extensions``: the extensions that put those schema classes in place.
"""

from . import extensions  # noqa: F401  (defining the extensions registers them)
