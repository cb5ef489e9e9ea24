"""``OPTIONS`` answers on every API endpoint, the upsert routes (no primary key in the URL) too."""
import re

import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db

UPSERTS = ("/api/customers/by-external-id/C-404/", "/api/orders/by-external-id/O-404/",
           "/api/products/by-sku/SKU-404/")


@pytest.mark.parametrize("url", UPSERTS)
def test_options_on_an_upsert_route_describes_its_input(api, url):
    response = api("Manager").options(url)
    assert response.status_code == 200, response.content
    assert "PUT" in response.json()["actions"]


def test_options_never_fails_on_any_path_of_the_schema(api):
    """Every path the schema documents, path parameters filled with an id that does not exist
    and one that may: an answer, never a server error."""
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    client = api("Manager")
    failures = []
    for path in paths:
        for value in ("1", "999999"):
            url = re.sub(r"\{[^}]+\}", value, path)
            response = client.options(url)
            if response.status_code >= 500:
                failures.append(f"{url}: {response.status_code}")
    assert len(paths) > 20
    assert not failures, failures
