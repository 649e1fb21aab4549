from pathlib import Path

import pytest

from coatings import ConstantReflectivity
from geometries import load_optic
from geometries.optic import SlopeErrors

SHARED = Path(__file__).resolve().parents[2] / "shared"


def pytest_collection_modifyitems(items):
    """Mark the tests that compare with ../shared/reference through its fixture: `-m reference_data` selects
    them."""
    for item in items:
        if "shared_reference" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.reference_data)


@pytest.fixture(scope="session")
def shared_reference():
    path = SHARED / "reference"
    if not path.is_dir():
        pytest.skip("../shared/reference is not present")
    return path


@pytest.fixture(scope="session")
def xmm():
    return load_optic("xmm")


@pytest.fixture(scope="session")
def xmm_design():
    return load_optic("xmm_design")


@pytest.fixture(scope="session")
def xmm_ideal(xmm):
    """XMM geometry with perfect mirrors (R = 1, no slope errors) and no spider."""
    return xmm.with_coating(ConstantReflectivity(1.0)).with_spider(None).with_slope_errors(SlopeErrors())


@pytest.fixture(scope="session")
def babyiaxo():
    return load_optic("babyiaxo")
