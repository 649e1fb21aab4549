import csv

import numpy as np
import pytest

from coatings import ConstantReflectivity, Layer, RecipeError, Stack, load_recipe, material
from coatings.table import ReflectivityTable


def fresnel(n, graze):
    """Closed-form Fresnel reflectivities at graze angle theta (s, p) of a single interface."""
    sin_t, cos_t = np.sin(graze), np.cos(graze)
    root = np.sqrt(n * n - cos_t**2)
    rs = (sin_t - root) / (sin_t + root)
    rp = (n * n * sin_t - root) / (n * n * sin_t + root)
    return np.abs(rs) ** 2, np.abs(rp) ** 2


def test_bare_substrate_is_fresnel():
    stack = Stack("bare Au", (), material("Au"))
    energies = np.array([1.0, 3.0, 8.0])
    graze = np.linspace(1e-4, 0.05, 50)
    n = material("Au").refractive_index(energies)[:, None]
    rs, rp = fresnel(n, graze[None, :])
    np.testing.assert_allclose(stack.reflectivity_grid(energies, graze, "s"), rs, rtol=1e-10)
    np.testing.assert_allclose(stack.reflectivity_grid(energies, graze, "p"), rp, rtol=1e-10)
    np.testing.assert_allclose(stack.reflectivity_grid(energies, graze), (rs + rp) / 2, rtol=1e-10)


def test_thick_film_equals_bulk_and_total_reflection_at_zero_angle():
    film = Stack("Au on Ni", (Layer(material("Au"), 250.0),), material("Ni"))
    bulk = Stack("bulk Au", (), material("Au"))
    energies = np.array([2.0, 6.0])
    graze = np.linspace(0.002, 0.02, 30)
    np.testing.assert_allclose(film.reflectivity_grid(energies, graze), bulk.reflectivity_grid(energies, graze), atol=1e-7)
    assert np.allclose(film.reflectivity_grid(energies, np.array([0.0])), 1.0)


def test_roughness_lowers_reflectivity():
    energies, graze = np.array([6.0]), np.array([0.008])
    smooth = Stack("s", (Layer(material("Au"), 250.0, 0.0),), material("Ni"))
    rough = Stack("r", (Layer(material("Au"), 250.0, 1.0),), material("Ni"))
    assert rough.reflectivity_grid(energies, graze)[0, 0] < smooth.reflectivity_grid(energies, graze)[0, 0]


def test_xmm_recipe_agrees_with_henke_table(shared_reference):
    """xraylib and Henke/CXRO differ by a few per cent in delta, which moves the steep part of
    R(theta) near the critical angle: |dR| stays below 0.03 at the angles XMM uses (<= 0.7 deg)
    away from the absorption edges (and below 0.007 rms)."""
    path = shared_reference / "xmm" / "au250nm_on_ni_sigma0.4nm_reflectivity_henke_0to1deg.csv"
    with open(path) as fh:
        rows = list(csv.reader(fh))
    angles_deg = np.array([float(h[2:-3]) for h in rows[0][1:]])
    data = np.array(rows[1:], dtype=float)
    energies = data[:, 0] / 1000.0
    stack = load_recipe("au250_ni")
    near_edge = np.zeros(energies.size, bool)
    for edge in stack.edge_energies_kev():
        near_edge |= (energies > edge - 0.1) & (energies < edge + 0.3)
    rows_used = (energies >= 1.2) & (energies <= 11.0) & ~near_edge
    cols = angles_deg <= 0.7
    ours = stack.reflectivity_grid(energies[rows_used], np.radians(angles_deg[cols]))
    diff = np.abs(ours - data[rows_used][:, 1:][:, cols])
    assert diff.max() < 0.03
    assert np.sqrt(np.mean(diff**2)) < 0.007


def test_table_lookup_matches_direct_evaluation():
    stack = load_recipe("au250_ni")
    energies = np.array([1.5, 2.2, 6.4])
    table = ReflectivityTable.build([stack], energies, max_angle_rad=0.05)
    rng = np.random.default_rng(1)
    graze = rng.uniform(0, 0.05, 400)
    for e in energies:
        direct = stack.reflectivity(np.full(graze.shape, e), graze)
        looked_up = table.lookup(np.zeros(graze.size, int), np.full(graze.shape, e), graze)
        assert np.max(np.abs(direct - looked_up)) < 1e-3


def test_constant_reflectivity_bounds():
    with pytest.raises(RecipeError, match="1.5"):
        ConstantReflectivity(1.5)


@pytest.mark.parametrize(
    "text, message",
    [
        ('[[layer]]\nmaterial="Unobtainium"\nthickness_nm=10\n[substrate]\nmaterial="Ni"', "layer 1: material 'Unobtainium'"),
        ('[[layer]]\nmaterial="Fe"\nthickness_nm=10\n[substrate]\nmaterial="Ni"', "layer 1: material 'Fe' has no default density"),
        ('[[layer]]\nmaterial="Au"\nthickness_nm=-5\n[substrate]\nmaterial="Ni"', "layer 1: thickness_nm = -5"),
        ('[[layer]]\nmaterial="Au"\n[substrate]\nmaterial="Ni"', "layer 1: missing field 'thickness_nm'"),
        ('[[layer]]\nmaterial="Au"\nthickness_nm=10', "no \\[substrate\\]"),
    ],
)
def test_malformed_recipes_name_the_field(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(RecipeError, match=message):
        load_recipe(path)


def test_unknown_shipped_recipe():
    with pytest.raises(RecipeError, match="unknown coating recipe 'gold'.*au250_ni"):
        load_recipe("gold")
