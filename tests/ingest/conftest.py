from __future__ import annotations

import pytest

from ingest.models import Collection


@pytest.fixture
def collection(db) -> Collection:
    return Collection.objects.create(name="Handbook", is_public=True)
