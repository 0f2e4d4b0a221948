"""The paper's numbers, typed once: the reference column of every comparison.

Nothing here is computed; each value is copied from the paper, with its table or
equation. Means and standard deviations are ``(mean, sd)`` pairs; the paper reports
them over its data versions (App. D: 5 versions, or 5 splits of the UCI sets), which
``PAPER_N`` records for the verdict rule. The page modules (``sec5``, ``sec7``, ``sec8``,
``appE3``) and the claims registry read them from here.
"""
from __future__ import annotations

import pandas as pd

__all__ = ["PAPER_N", "EQ6", "CASE_A", "CASE_A_TRUTH", "TABLE1", "TABLE2", "TABLE3", "TABLE4",
           "TABLE5", "TABLE6", "FIGURES", "APPD_PROTOCOL", "SURROGATE_TARGET", "table1_frame"]

#: runs behind each of the paper's mean +- sd (App. D: 5 data versions / 5 UCI splits)
PAPER_N = 5

#: Sec. 5.2, Eq. 6: -ELBO (up to a constant) at the ground truth and at the global optimum
EQ6 = {"ground truth": 0.532, "global optimum": 0.196}

#: Sec. 8, Case A (Spiral-Dots): the noise variance the ELBO recovers, mean +- sd
CASE_A = {"fixed sigma^2 = 0.01, then Eq. 9": (0.014, 0.001),
          "sigma^2 learned jointly": (0.020, 0.003)}
#: the true noise variance of Spiral-Dots in Case A (Sec. 8)
CASE_A_TRUTH = 0.01

#: Table 1 (Sec. 8, Case B): (dataset, method, K, metric) -> (mean, sd); "iwae" is the
#: paper's single IWAE row
TABLE1 = {
    ("figure8_5d", "vae", 1, "neg_elbo"): (-0.127, 0.057), ("figure8_5d", "vae", 2, "neg_elbo"): (-0.260, 0.040),
    ("figure8_5d", "vae", 3, "neg_elbo"): (-0.234, 0.050), ("clusters_5d", "vae", 1, "neg_elbo"): (4.433, 0.049),
    ("clusters_5d", "vae", 2, "neg_elbo"): (4.385, 0.034), ("clusters_5d", "vae", 3, "neg_elbo"): (4.377, 0.024),
    ("figure8_5d", "vae", 1, "avg_mi"): (2.419, 0.027), ("figure8_5d", "vae", 2, "avg_mi"): (1.816, 0.037),
    ("figure8_5d", "vae", 3, "avg_mi"): (1.296, 0.064), ("clusters_5d", "vae", 1, "avg_mi"): (1.530, 0.011),
    ("clusters_5d", "vae", 2, "avg_mi"): (1.425, 0.019), ("clusters_5d", "vae", 3, "avg_mi"): (1.077, 0.105),
    ("figure8_5d", "iwae", 1, "neg_elbo"): (-0.388, 0.044), ("figure8_5d", "iwae", 2, "neg_elbo"): (-0.364, 0.051),
    ("figure8_5d", "iwae", 3, "neg_elbo"): (-0.351, 0.045), ("clusters_5d", "iwae", 1, "neg_elbo"): (4.287, 0.047),
    ("clusters_5d", "iwae", 2, "neg_elbo"): (4.298, 0.054), ("clusters_5d", "iwae", 3, "neg_elbo"): (4.295, 0.049),
    ("figure8_5d", "iwae", 1, "avg_mi"): (2.159, 0.088), ("figure8_5d", "iwae", 2, "avg_mi"): (1.910, 0.035),
    ("figure8_5d", "iwae", 3, "avg_mi"): (1.605, 0.087), ("clusters_5d", "iwae", 1, "avg_mi"): (1.269, 0.052),
    ("clusters_5d", "iwae", 2, "avg_mi"): (1.321, 0.033), ("clusters_5d", "iwae", 3, "avg_mi"): (1.135, 0.110),
}

#: Table 2 (App. E.1): smooth kNN statistic of p(x), (dataset, method) -> (mean, sd)
TABLE2 = {
    ("clusters", "IWAE"): (0.057, 0.028), ("clusters", "LIN"): (0.347, 0.057),
    ("clusters", "VAE"): (0.361, 0.083),
    ("figure8", "IWAE"): (0.036, 0.013), ("figure8", "LIN"): (0.040, 0.081),
    ("figure8", "VAE"): (0.066, 0.014),
}

#: Table 3 (App. E.3): smooth kNN statistic of p(x), semi-supervised, (dataset, method)
TABLE3 = {
    ("semicircle_discrete", "iwae"): (0.694, 0.096), ("semicircle_discrete", "lin"): (0.703, 0.315),
    ("semicircle_discrete", "vae"): (0.196, 0.078),
    ("semicircle_continuous", "iwae"): (0.015, 0.011), ("semicircle_continuous", "lin"): (0.128, 0.094),
    ("semicircle_continuous", "vae"): (0.024, 0.014),
}

#: Table 4 (App. E.3): smooth kNN statistic of p(x | y), (dataset, method, cohort 1 | 2)
TABLE4 = {
    ("semicircle_discrete", "iwae", 1): (1.426, 1.261), ("semicircle_discrete", "iwae", 2): (1.698, 0.636),
    ("semicircle_discrete", "lin", 1): (18.420, 1.220), ("semicircle_discrete", "lin", 2): (10.118, 0.996),
    ("semicircle_discrete", "vae", 1): (15.206, 1.200), ("semicircle_discrete", "vae", 2): (11.501, 1.300),
    ("semicircle_continuous", "iwae", 1): (15.951, 3.566), ("semicircle_continuous", "iwae", 2): (14.416, 1.402),
    ("semicircle_continuous", "lin", 1): (15.321, 1.507), ("semicircle_continuous", "lin", 2): (17.530, 1.509),
    ("semicircle_continuous", "vae", 1): (13.128, 0.825), ("semicircle_continuous", "vae", 2): (16.046, 1.019),
}

#: Table 5 (App. E.3): smooth kNN statistic of p(x) on the UCI sets, (dataset, method)
TABLE5 = {
    ("uci_retinopathy", "IWAE"): (3.571, 2.543), ("uci_retinopathy", "VAE"): (6.206, 1.035),
    ("uci_contraceptive", "IWAE"): (1.740, 0.290), ("uci_contraceptive", "VAE"): (2.147, 0.225),
    ("uci_titanic", "IWAE"): (2.794, 1.280), ("uci_titanic", "VAE"): (1.758, 0.193),
}

#: Table 6 (App. E.3): smooth kNN statistic of p(x | y), (dataset, method, cohort 1..3)
TABLE6 = {
    ("uci_retinopathy", "IWAE", 1): (4.240, 1.219), ("uci_retinopathy", "IWAE", 2): (4.357, 3.417),
    ("uci_retinopathy", "VAE", 1): (5.601, 0.843), ("uci_retinopathy", "VAE", 2): (8.008, 1.096),
    ("uci_contraceptive", "IWAE", 1): (7.838, 1.138), ("uci_contraceptive", "IWAE", 2): (5.521, 3.519),
    ("uci_contraceptive", "IWAE", 3): (6.626, 2.571),
    ("uci_contraceptive", "VAE", 1): (5.388, 0.788), ("uci_contraceptive", "VAE", 2): (4.994, 0.932),
    ("uci_contraceptive", "VAE", 3): (3.722, 0.488),
    ("uci_titanic", "IWAE", 1): (3.416, 0.965), ("uci_titanic", "IWAE", 2): (6.923, 1.924),
    ("uci_titanic", "VAE", 1): (3.730, 0.866), ("uci_titanic", "VAE", 2): (8.572, 1.766),
}

#: App. I: which paper figure shows which (method, data set) in Section 5's qualitative results
FIGURES = {
    ("vae", "circle"): 8, ("vae", "absolute_value"): 9, ("vae", "figure8"): 10,
    ("lin", "figure8"): 11, ("iwae", "figure8"): 12, ("vae", "clusters"): 13,
    ("lin", "clusters"): 14, ("iwae", "clusters"): 15,
}


def table1_frame() -> pd.DataFrame:
    """``TABLE1`` in long format: dataset, method, K, metric, mean, sd."""
    return pd.DataFrame([(*k, *v) for k, v in TABLE1.items()],
                        columns=["dataset", "method", "K", "metric", "mean", "sd"])


#: App. G/H: every surrogate network of a data set's f is fitted to an MSE below this
#: against the closed form
SURROGATE_TARGET = 1e-4


#: App. D's protocol for the synthetic data sets: setting -> the numbers App. D states
#: (data versions; train / validation / test points; ground-truth + random restarts;
#: Adam's learning rate and mini-batch size; epochs; the grids of IWAE's S, LIN's T and
#: R, and the semi-supervised alpha and gamma)
APPD_PROTOCOL = {
    "data versions": (5,),
    "train / validation / test": (5000, 2000, 2000),
    "restarts (ground truth + random)": (5, 5),
    "Adam: learning rate, batch size": (0.001, 100),
    "epochs (synthetic)": (100,),
    "IWAE S": (3, 10, 20),
    "LIN T": (0.05, 0.1),
    "LIN R": (5, 10),
    "alpha": (0.0, 0.1, 1.0),
    "gamma": (0.5, 1.0, 2.0, 5.0),
}
