"""Defaults shared by the Python API and the command line. This module imports nothing, so that the command
line's parser (and `raytrace --help`) reads them without loading numba, astropy or matplotlib."""

RAYS = 1_000_000  # a single trace: effective area, PSF, solar spot
RAYS_PER_POINT = 200_000  # each point of a scan: off-axis angle, tilt, calibration step, focal length
CHUNK_SIZE = 1 << 19  # rays traced per kernel call: memory stays flat, results do not depend on it
CUBE_BIN_KEV = 0.5  # energy bins of the solar signal cube: the sensitivity's analysis bins
RMF_CHANNEL_KEV = 0.05  # channel width of the spot's RMF: resolves the narrowest photopeak of a gas detector
DETECTOR_EFFICIENCY_IN = ("arf", "rmf")  # where the spot's response files may put eps_D(E); the first is the default
SPOT_FOCUS_KEV = 4.0  # the solar spot's focal plane: the best focus of an on-axis beam near the detected peak
WING_FRACTION = 0.1  # share of reflections in the broad slope-error wing when a calibration fits its rms
PSD_BAND_PER_UM = (0.01, 10.0)  # spatial frequencies (1/um) of the coatings' roughness PSD a PSF fit scatters over

SOURCE = "parallel"  # the X-ray source: an on-axis parallel beam (raytrace.sources.spec)
SOLAR_MODELS = ("cast2007", "giannotti2019", "hoof2022")  # raytrace.sources.solar.MODELS
SOLAR_MODEL = "hoof2022"
MATERIALS = ("wb4c", "ir", "au")  # coating systems the optimiser tries per group

# BabyIAXO (Abeln et al., JHEP 05 (2021) 137): a 10 m long, 2 T magnet with two bores of 70 cm diameter. The distance
# from a bore's end to its optic's entrance is not published; 500 mm is assumed (a parameter).
MAGNET_FIELD_T = 2.0
MAGNET_LENGTH_M = 10.0
MAGNET_BORES = 2
BORE_GAP_MM = 500.0

G_AGAMMA_PER_GEV = 1e-11  # the coupling expected counts are given for
G_AE = 1e-13  # the axion-electron coupling the ABC flux's counts are given for
FLUXES = ("primakoff", "abc")  # solar-axion production: g_agamma (Primakoff, by --solar-model) or g_ae (ABC)
# The ABC flux peaks near 1 keV (its table starts at 0); below 0.5 keV the default detector's window passes < 1 %.
ABC_BAND_KEV = (0.5, 10.0)
EXPOSURE_S = 1.0e7  # Sun-tracking time
EFFICIENCY = 1.0  # data-taking and analysis efficiency

# The projected sensitivity (raytrace.helioscope.sensitivity): one optic per bore, each phase's exposure and the
# share of it spent tracking the Sun, the analysis bins and the masses.
SENSITIVITY_OPTICS = ("xmm", "babyiaxo")
VACUUM_YEARS = 1.5
GAS_YEARS = 1.5
TRACKING = 0.5
SENSITIVITY_BINS_KEV = (1.0, 10.0, 0.5)  # first edge, last edge, bin width
ABC_SENSITIVITY_BINS_KEV = (0.5, 10.0, 0.5)
COUPLINGS = ("gagamma", "gae")  # what the sensitivity is to: g_agamma (Primakoff) or (g_ae g_agamma)^1/2 (ABC)
MASSES_EV = (1e-3, 1.0, 300)  # log-spaced: first, last, count
MAX_GAS_MASS_EV = 0.25
CONFIDENCE = 0.95
