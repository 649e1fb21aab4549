"""Surface scattering from roughness in first-order theory (`coatings.scattering`): the specular and scattered shares
and the scattered angles against an independent integration of the first-order formula, below and above the
critical angle; the table's tau; a gold Wolter shell's wing; the smooth limit; the kernel against the numpy
reference ray by ray; area and PSF counting the same photons."""

import dataclasses
import math

import numba
import numpy as np
import pytest
from scipy import stats

from coatings import SurfaceScattering, load_recipe
from coatings.table import ReflectivityTable
from geometries import ARCSEC_PER_RAD, Optic, Shell
from raytrace.analysis import effective_area, psf
from raytrace.engine import Fate, Rays, Trace, kernel, physics
from raytrace.engine.reference import reference_trace
from raytrace.engine.rng import seed_key, stream_key
from raytrace.engine.trace import SCATTER_STREAM
from raytrace.sources import ParallelBeam

PSD = SurfaceScattering(psd_index=1.6, f_min_per_um=0.02, f_max_per_um=2.0)
HC = 1.2398419843320026
GOLD = dataclasses.replace(load_recipe("au250_ni"), scattering=PSD)  # 0.4 nm rms, all of it in the band


@pytest.fixture(scope="module")
def scattering_xmm(xmm):
    return xmm.with_coating(GOLD)


def traced(optic, energy_kev, n=40_000, seed=4):
    trace = Trace(optic, ParallelBeam(energy_kev=energy_kev), 0.0)
    table = trace.reflectivity_table([energy_kev])
    return trace, table, trace.trace_range(seed_key(seed), 0, n, n, table=table)


def first_order(stack, energy_kev, graze, n_f=20_001):
    """An integration of first-order theory independent of the tracer's: the scattered flux per unit frequency,
    (16 pi^2 / lambda^2) sin a sin a_s sqrt(R_0(a) R_0(a_s)) P(f), with R_0 from the stack's own Parratt recursion
    (no table), on a dense logarithmic grid of f on each side. Returns the scattered angles (rad), the flux density
    per unit f per unit R_0(a) (tau's integrand), the frequencies (1/nm) and the Debye-Waller TIS."""
    model = stack.scattering
    sigma, wavelength = stack.band_roughness_nm, HC / energy_kev
    f_lo, f_hi = 1e-3 * model.f_min_per_um, 1e-3 * model.f_max_per_um
    norm = (
        0.5 * sigma**2 / np.trapezoid(np.geomspace(f_lo, f_hi, n_f) ** -model.psd_index, np.geomspace(f_lo, f_hi, n_f))
    )
    r0 = stack.smooth_reflectivity_grid([energy_kev], [graze])[0, 0]
    sides = []
    for sign in (-1.0, 1.0):  # away from the surface, towards it
        top = f_hi if sign < 0 else min(f_hi, (1 - math.cos(graze)) / wavelength)
        if top <= f_lo:
            continue
        f = np.geomspace(f_lo, top, n_f)
        graze_s = np.arccos(np.clip(math.cos(graze) + sign * wavelength * f, -1.0, 1.0))
        r_s = stack.smooth_reflectivity_grid([energy_kev], graze_s)[0]
        density = (
            16
            * math.pi**2
            / wavelength**2
            * math.sin(graze)
            * np.sin(graze_s)
            * np.sqrt(r_s / r0)
            * norm
            * f**-model.psd_index
        )
        sides.append((graze_s, density, f))
    tis = (4 * math.pi * sigma * math.sin(graze) / wavelength) ** 2
    return sides, tis


def first_order_tau(stack, energy_kev, graze):
    sides, _ = first_order(stack, energy_kev, graze)
    return sum(np.trapezoid(density, f) for _, density, f in sides)


@numba.njit
def _draws(table, energy_kev, graze, n, out):
    """n rays reflected at graze angle `graze` by the plane z = 0 (normal +z), through `physics.scatter`."""
    for i in range(n):
        ux, uy, uz, factor = physics.scatter(
            table, 0, energy_kev, graze, np.uint64(i), 0, math.cos(graze), 0.0, math.sin(graze), 0.0, 0.0, 1.0
        )
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = ux, uy, uz, factor


def scatter_draws(stack, energy_kev, graze, n=400_000):
    table = ReflectivityTable.build([stack], [energy_kev], 1.5 * graze)
    kt = kernel.KernelReflectivity(
        True,
        table.values,
        table.energies_kev,
        table.angle_step_rad,
        np.zeros(1, np.int64),
        True,
        table.scattering,
        table.scatter_values,
        table.scatter_step_rad,
        table.scatter_fraction,
        np.uint64(99),
    )
    out = np.empty((n, 4))
    _draws(kt, energy_kev, graze, n, out)
    return table, out


def critical_angle(stack, energy_kev):
    n = complex(stack.layers()[0].material.refractive_index(np.array([energy_kev]))[0])
    return math.sqrt(2 * (1 - n.real))


MULTILAYER = dataclasses.replace(load_recipe("cast_ptc_4"), scattering=PSD)  # 5 Pt/C bilayers, C on top, 0.45 nm


# (coating, energy, graze in units of the critical angle of its top material): XMM's and the custom optic's
# reflections lie below it; the multilayer's Bragg reflection beyond it
@pytest.mark.parametrize(
    "stack, energy_kev, below",
    [
        (GOLD, 1.5, 0.07),
        (GOLD, 1.5, 0.16),
        (GOLD, 3.0, 0.33),
        (GOLD, 8.0, 0.85),
        (GOLD, 8.0, 1.4),
        (GOLD, 10.0, 2.0),
        (MULTILAYER, 8.0, 2.0),
        (MULTILAYER, 4.0, 1.5),
    ],
    ids=["Au-1.5-0.07", "Au-1.5-0.16", "Au-3-0.33", "Au-8-0.85", "Au-8-1.4", "Au-10-2", "PtC-8-2", "PtC-4-1.5"],
)
def test_specular_and_scattered_flux_follow_first_order_theory(stack, energy_kev, below):
    graze = below * critical_angle(stack, energy_kev)
    n = 400_000
    table, out = scatter_draws(stack, energy_kev, graze, n)
    sides, tis = first_order(stack, energy_kev, graze)
    tau = sum(np.trapezoid(density, f) for _, density, f in sides)
    leaves = -math.expm1(-max(tis, tau))
    scattered = np.abs(out[:, 2] - math.sin(graze)) > 1e-15
    # the specular beam keeps exp(-TIS) (Debye-Waller, not the Nevot-Croce share), or exp(-tau) where first order
    # scatters more than that
    assert 1 - scattered.mean() == pytest.approx(1 - leaves, abs=4 * math.sqrt(leaves / n))
    # the scattered flux per unit R_0 is first order's tau (within R_0 with the specular beam)
    expected = min(tau, leaves)
    flux = out[scattered, 3].sum() / n
    error = math.sqrt(np.sum(out[scattered, 3] ** 2)) / n
    assert flux == pytest.approx(expected, abs=4 * error + 3e-3 * expected)
    np.testing.assert_allclose(np.linalg.norm(out[:, :3], axis=1), 1.0, rtol=0, atol=1e-14)
    assert np.all(out[:, 1] == 0.0)  # in the plane of incidence
    # the scattered angles: weighted histogram against first order's flux over the same bins
    graze_s = np.arctan2(out[scattered, 2], out[scattered, 0])
    edges = np.quantile(graze_s, np.linspace(0, 1, 21))
    traced_flux = np.histogram(graze_s, edges, weights=out[scattered, 3])[0] / n
    traced_error = np.sqrt(np.histogram(graze_s, edges, weights=out[scattered, 3] ** 2)[0]) / n
    predicted = np.zeros(len(edges) - 1)
    for angles, density, f in sides:  # the flux of each side below a scattered angle, at the bin edges
        below_f = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * np.diff(f))])
        below_angle = below_f if angles[-1] > angles[0] else below_f[-1] - below_f  # towards: a_s falls with f
        order = np.argsort(angles)
        predicted += np.diff(np.interp(edges, angles[order], below_angle[order]))
    predicted *= expected / tau
    np.testing.assert_array_less(np.abs(traced_flux - predicted), 4 * traced_error + 0.01 * predicted)


@pytest.mark.parametrize("energy_kev", [1.5, 3.0, 8.0])
def test_the_tables_tau_is_the_first_order_integral(energy_kev):
    table = ReflectivityTable.build([GOLD], [energy_kev], 0.02)
    for graze in (0.004, 0.008, 0.012):
        tau = np.interp(graze / table.angle_step_rad, np.arange(table.values.shape[2]), table.scatter_fraction[0, 0])
        assert tau == pytest.approx(first_order_tau(GOLD, energy_kev, graze), rel=2e-3)


def test_a_scattering_stacks_specular_reflectivity_leaves_the_first_order_share_of_the_smooth_top():
    """R_0 is the stack without the band's roughness (the rest and the interfaces below keep Nevot-Croce); the
    specular beam keeps R_0 exp(-max(TIS, tau)), tau from the independent first-order integral. The band's rms keeps
    its share of the top roughness when every interface's roughness is changed, and a fit of the PSD index keeps it."""
    from raytrace.analysis.calibration import with_parameters

    energies, angles = np.array([1.5, 8.0]), np.array([0.003, 0.006, 0.012, 0.02])
    partial = dataclasses.replace(GOLD, scattering=dataclasses.replace(PSD, roughness_nm=0.3))
    for stack in (GOLD, partial):
        sigma = stack.band_roughness_nm
        top = dataclasses.replace(stack.films[0], roughness_nm=math.sqrt(0.4**2 - sigma**2))
        smooth_top = dataclasses.replace(stack, films=(top,), scattering=None)  # the substrate's 0.4 nm stays
        np.testing.assert_allclose(
            stack.smooth_reflectivity_grid(energies, angles), smooth_top.reflectivity_grid(energies, angles), rtol=1e-12
        )
        tis = (4 * np.pi * sigma * np.sin(angles) / (HC / energies[:, None])) ** 2
        tau = np.array([[first_order_tau(stack, e, a) for a in angles] for e in energies])
        assert np.any(tau > tis) and np.any(tau < tis)  # both cases occur
        np.testing.assert_allclose(
            stack.reflectivity_grid(energies, angles),
            smooth_top.reflectivity_grid(energies, angles) * np.exp(-np.maximum(tis, tau)),
            rtol=1e-4,
        )
    assert partial.with_roughness(0.2).scattering.roughness_nm == pytest.approx(0.15)
    shell = Optic("gold shell", 7500.0, (Shell(240.0, 0.5, 300.0, 300.0),), (partial,))
    assert with_parameters(shell, {"psd_index": 1.2}).coatings[0].scattering.roughness_nm == 0.3
    with pytest.raises(ValueError, match="exceeds the top interface's roughness"):
        dataclasses.replace(GOLD, scattering=dataclasses.replace(PSD, roughness_nm=0.5))


def beyond_300_arcsec(energy_kev, n=400_000, seed=5):
    """The share of a gold Wolter shell's focused flux (on axis, r0 = 240 mm, f = 7.5 m, 300 mm mirrors) beyond
    300 arcsec of its focus: traced, and from first order independently of the tracer.

    Independently: a ray reflected at height h above the intersection plane meets the secondary at depth about h
    below it. Scattered at the primary by delta = a_s - a (a = the graze angle on both mirrors), it closes on the
    secondary at a - delta and meets it only if h < L (1 - delta / a), at graze a - delta; a secondary flips the
    deviation, so the ray lands about delta (f - 3 h) from the focus. Scattered at the secondary it lands delta
    (f - h) from it. Averaged over h (uniform: the entrance annulus is thin) and divided by the focused flux."""
    f_mm, length, r0 = 7500.0, 300.0, 240.0
    shell = Optic("gold shell", f_mm, (Shell(r0, 0.5, length, length),), (GOLD,))
    _, _, rays = traced(shell, energy_kev, n=n, seed=seed)
    focused = rays.fate == Fate.DOUBLE
    radius = np.hypot(rays.x, rays.y) / f_mm * ARCSEC_PER_RAD
    traced_share = rays.weight[focused & (radius > 300)].sum() / rays.weight[focused].sum()

    graze = math.atan(r0 / f_mm) / 4
    sides, tis = first_order(GOLD, energy_kev, graze)
    r0_graze = GOLD.smooth_reflectivity_grid([energy_kev], [graze])[0, 0]
    heights = (np.arange(200) + 0.5) / 200 * length
    first_all = first_far = second_far = tau = 0.0
    for angles, density, f in sides:
        delta = angles - graze
        tau += np.trapezoid(density, f)
        second_graze = np.clip(graze - delta, 1e-9, None)
        onward = GOLD.smooth_reflectivity_grid([energy_kev], second_graze)[0] / r0_graze
        for h in heights:
            meets = h < length * (1 - delta / graze)
            first_all += np.trapezoid(density * meets * onward, f) / heights.size
            far_1 = np.abs(delta) * (1 - 3 * h / f_mm) * ARCSEC_PER_RAD > 300
            first_far += np.trapezoid(density * meets * onward * far_1, f) / heights.size
            far_2 = np.abs(delta) * (1 - h / f_mm) * ARCSEC_PER_RAD > 300
            second_far += np.trapezoid(density * far_2, f) / heights.size
    specular = math.exp(-max(tis, tau))
    expected = (first_far * (specular + tau) + specular * second_far) / ((specular + first_all) * (specular + tau))
    return traced_share, expected


def test_a_gold_shells_wing_grows_with_energy_as_first_order_says():
    at_3, expected_3 = beyond_300_arcsec(3.0, n=1_000_000)
    at_8, expected_8 = beyond_300_arcsec(8.0, n=1_000_000)
    assert at_3 == pytest.approx(expected_3, rel=0.05)
    assert at_8 == pytest.approx(expected_8, rel=0.05)
    assert at_8 > 1.8 * at_3


def test_kernel_matches_the_numpy_reference_ray_by_ray(scattering_xmm):
    trace, table, rays = traced(scattering_xmm, 8.0, n=4000)
    key = seed_key(4)
    start = Rays.empty(4000)
    trace.source.emit(key, 0, 4000, trace.aperture, start)
    ref = reference_trace(
        trace.packed, start, int(key), 0, 0.0, table, trace.shell_coating, int(stream_key(key, SCATTER_STREAM))
    )
    np.testing.assert_array_equal(rays.fate, ref.fate)
    for name in ("x", "y"):
        np.testing.assert_allclose(getattr(rays, name), getattr(ref, name), rtol=0, atol=1e-7)
    for name in ("dx", "dy", "dz", "graze1", "graze2"):
        np.testing.assert_allclose(getattr(rays, name), getattr(ref, name), rtol=0, atol=1e-11)
    # the kernel's weights: the reference's scattering factors times R_0 at both reflections
    focused = rays.fate == Fate.DOUBLE
    coating = trace.shell_coating[rays.shell]
    r0 = table.lookup(coating, 8.0, rays.graze1) * table.lookup(coating, 8.0, rays.graze2)
    np.testing.assert_allclose(rays.weight[focused], (ref.weight * r0)[focused], rtol=1e-9)
    assert np.count_nonzero(ref.weight != start.weight) > 100  # some rays did scatter


def test_a_smooth_surface_changes_nothing_ray_for_ray(xmm):
    smooth = xmm.coatings[0].with_roughness(0.0)
    _, _, plain = traced(xmm.with_coating(smooth), 8.0)
    _, table, scattered = traced(xmm.with_coating(dataclasses.replace(smooth, scattering=PSD)), 8.0)
    assert table.scattering is not None
    for name in ("x", "y", "dx", "dy", "dz", "weight", "fate"):
        np.testing.assert_array_equal(getattr(scattered, name), getattr(plain, name))


def test_area_and_psf_count_the_same_photons(scattering_xmm):
    """With a photon list, area traces every ray at its energy as psf does: the same focused area to 1e-12. Without
    one it corrects the re-weighted geometric trace by a traced subsample: within 4 standard errors of psf's."""
    area = effective_area(scattering_xmm, [1.5, 8.0], n_rays=400_000, seed=2)
    assert area.meta["scattering_rays_per_energy"] == 65_536
    for row in area:
        traced = psf(scattering_xmm, row["energy"], n_rays=400_000, seed=2, focal_plane_z_mm=0.0, image_pixels=1)
        assert abs(traced.effective_area_cm2 - row["effective_area"]) < 4 * row["effective_area_err"]
        listed = effective_area(scattering_xmm, [row["energy"]], n_rays=100_000, seed=2, on_chunk=lambda rays: None)
        traced = psf(scattering_xmm, row["energy"], n_rays=100_000, seed=2, focal_plane_z_mm=0.0, image_pixels=1)
        assert listed["effective_area"][0] == pytest.approx(traced.effective_area_cm2, rel=1e-12)


def test_drawn_frequencies_follow_the_psd_where_they_propagate():
    energy, graze = 4.0, 0.01
    _, out = scatter_draws(GOLD, energy, graze, 200_000)
    scattered = np.abs(out[:, 2] - math.sin(graze)) > 1e-15
    cos_s = out[scattered, 0]
    f = np.abs(cos_s - math.cos(graze)) / (HC / energy) * 1e3  # 1/um
    away = out[scattered, 2] > math.sin(graze)
    cutoff = (1 - math.cos(graze)) / (HC / energy) * 1e3
    lo, hi, a = PSD.f_min_per_um, PSD.f_max_per_um, 1 - PSD.psd_index

    def cdf(x, top=hi):
        return (x**a - lo**a) / (top**a - lo**a)

    assert stats.kstest(f[away], cdf).pvalue > 1e-3
    assert stats.kstest(f[~away], lambda x: cdf(x, cutoff)).pvalue > 1e-3
    assert f[~away].max() <= cutoff * (1 + 1e-6)  # nothing scatters below the surface
    assert (~away).mean() == pytest.approx(cdf(cutoff) / (1 + cdf(cutoff)), abs=4 * math.sqrt(0.25 / away.size))


def test_scattering_is_the_same_for_any_chunk_size(scattering_xmm):
    trace = Trace(scattering_xmm, ParallelBeam(energy_kev=6.0), 0.0)
    table = trace.reflectivity_table([6.0])
    for name in ("x", "weight"):
        whole = np.concatenate([getattr(r, name).copy() for r in trace.run(30_000, 7, 30_000, table)])
        pieces = np.concatenate([getattr(r, name).copy() for r in trace.run(30_000, 7, 7_001, table)])
        np.testing.assert_array_equal(whole, pieces)


def test_bad_psd_is_named():
    with pytest.raises(ValueError, match="psd_index"):
        SurfaceScattering(-1.0, 0.1, 1.0)
    with pytest.raises(ValueError, match="f_min_per_um"):
        SurfaceScattering(1.5, 2.0, 1.0)
    with pytest.raises(ValueError, match="roughness_nm"):
        SurfaceScattering(1.5, 0.1, 1.0, -0.1)


def test_king_encircled_energy_closed_form():
    from raytrace.analysis.calibration import king_encircled

    assert king_encircled(3.0, 3.0, 2.0) == pytest.approx(0.5)  # 1 - (1 + 1)^-1
    assert king_encircled(1e9, 4.7, 1.46) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="index > 1"):
        king_encircled(1.0, 1.0, 0.9)


@pytest.mark.slow
def test_a_fit_to_synthetic_encircled_energy_recovers_its_parameters(xmm_design):
    from raytrace.analysis.calibration import fit_psf, with_parameters
    from raytrace.analysis.psf import psf

    truth = {"core_scale": 6.0, "wing_fraction": 0.08, "wing_arcsec": 60.0, "psd_index": 1.8}
    measured = with_parameters(xmm_design, truth)
    radii = np.array([3, 6, 10, 15, 25, 40, 60, 90.0])
    targets = []
    for energy in (1.5, 8.0):  # "measured" with other rays (seed 11) than the fit's (seed 3)
        result = psf(measured, energy, n_rays=100_000, seed=11, focal_plane_z_mm=0.0, image_pixels=1)
        r = np.asarray(result.encircled["radius"], float)
        targets.append(
            (
                energy,
                radii,
                np.interp(np.log(radii), np.log(r), np.asarray(result.encircled["encircled_fraction"], float)),
            )
        )
    fit = fit_psf(
        xmm_design,
        targets,
        ee_error=0.005,
        focal_plane_z_mm=0.0,
        n_rays=50_000,
        seed=3,
        start={"core_scale": 10.0, "wing_fraction": 0.05, "wing_arcsec": 40.0, "psd_index": 1.2},
    )
    for name, value in truth.items():
        fitted, error = fit.parameters[name]
        assert abs(fitted - value) < 3 * error, name
    assert fit.chi2 < 3 * fit.dof
    assert fit.optic.coatings[0].scattering.psd_index == pytest.approx(fit.parameters["psd_index"][0])


@pytest.mark.slow
def test_calibrate_fits_king_profiles_from_the_command_line(tmp_path, capsys):
    from raytrace.cli import main

    king = tmp_path / "king.csv"
    king.write_text("energy_eV,core_radius_arcsec,king_index\n1500,4.72,1.457\n7500,3.304,1.397\n")
    out = tmp_path / "fitted.ecsv"
    assert (
        main(
            [
                "calibrate",
                "xmm_design",
                "--king",
                str(king),
                "--king-energy",
                "1.5,7.5",
                "--radii",
                "5,15,30,60",
                "--rays",
                "20000",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "core_scale" in text and "psd_index" in text and "chi2" in text
    assert out.is_file() and (tmp_path / "fitted_au250_ni.toml").is_file()
    for argv, message in (
        (["--king", str(king)], "give --king-energy"),
        (["--king", str(king), "--king-energy", "3"], "no row at 3 keV"),
        (["--encircled", str(king)], "missing column 'energy_kev'"),
        (["--king", str(king), "--king-energy", "1.5", "--energy", "1.5"], "belong to the HPD"),
        ([], "give --energy and --hpd"),
    ):
        assert main(["calibrate", "xmm_design", *argv]) == 2
        assert message in capsys.readouterr().err


@pytest.mark.slow
def test_a_fit_to_synthetic_areas_recovers_the_obscuration_and_the_roughness(xmm_design):
    from raytrace.analysis.calibration import fit_psf, with_parameters
    from raytrace.analysis.psf import psf

    truth = {"spider_width": 2.6, "roughness_nm": 0.9}  # XMM's own: 2.29 deg spokes, 0.4 nm
    measured = with_parameters(xmm_design, truth)
    areas = []
    for energy in (1.5, 4.0, 8.0):
        area = psf(measured, energy, n_rays=100_000, seed=11, focal_plane_z_mm=0.0, image_pixels=1).effective_area_cm2
        areas.append((energy, area, 0.005 * area))
    fit = fit_psf(xmm_design, areas=areas, focal_plane_z_mm=0.0, n_rays=50_000, seed=3)
    for name, value in truth.items():
        fitted, error = fit.parameters[name]
        assert abs(fitted - value) < 3 * error, name
    assert fit.parameters["spider_width"][1] < 0.2 and fit.parameters["roughness_nm"][1] < 0.1  # 0.5 % areas
    np.testing.assert_allclose(fit.area_residuals["model_area"], [a for _, a, _ in areas], rtol=0.02)


@pytest.mark.slow
def test_calibrate_fits_areas_from_the_command_line(tmp_path, capsys):
    from raytrace.cli import main

    areas = tmp_path / "areas.csv"
    areas.write_text("energy_kev,area_cm2,area_err_cm2\n1.5,1400,14\n8.0,600,6\n")
    assert main(["calibrate", "xmm", "--areas", str(areas), "--rays", "20000"]) == 0
    text = capsys.readouterr().out
    assert "spider_width" in text and "roughness_nm" in text and "1400 +- 14" in text
    areas.write_text("energy_kev,area\n1.5,1400\n")
    assert main(["calibrate", "xmm", "--areas", str(areas)]) == 2
    assert "missing column 'area_cm2'" in capsys.readouterr().err
