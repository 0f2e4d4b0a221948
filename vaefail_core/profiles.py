"""Run profiles: how much of the paper's protocol (Sec. 4, App. D) a run reproduces.

* ``quick``    CI smoke test: every notebook in a minute or two on 2 CPU cores.
* ``reduced``  what the committed book shows: the paper's protocol (100 epochs, the full
               unsupervised grids) with 4 data versions and 6 restarts (3 at the ground
               truth + 3 random), and smaller semi-supervised / UCI grids; sized so that
               a Table-2 sweep takes ~17-23 min on 2 cores (~35-45 core-minutes;
               measured with ``benchmarks/bench_ensemble.py``).
* ``paper``    App. D exactly: 5 data versions (5000/2000/2000), 10 restarts (5 at the
               ground truth, 5 random), 100 epochs (20000 on the UCI data), the full grids.

Everything a notebook prints about the protocol comes from these objects
(``get_profile(name).describe()``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from . import set_seed
from .plots import install_empty_panel_check

__all__ = ["Profile", "PROFILES", "get_profile"]


@dataclass(frozen=True)
class Profile:
    name: str
    # data (App. D: 5 versions of 5000/2000/2000 train/validation/test points)
    n_versions: int
    n_train: int
    n_val: int
    n_test: int
    # restarts (Sec. 4: 10 = 5 at the ground truth + 5 random; 5 random on UCI data)
    n_gt_restarts: int
    n_random_restarts: int
    n_restarts_real: int
    # optimisation (App. D: Adam, lr 1e-3, batch 100, 100 epochs synthetic / 20000 UCI)
    epochs: int
    epochs_real: int
    batch_size: int = 100
    lr: float = 1e-3
    # ground-truth initialisation of the encoder, decoder frozen (train.py; the paper gives
    # no number: on Figure-8 the frozen-decoder -ELBO still drops ~0.3 nats from 10+30 to
    # 20+100 epochs, so "paper" uses 20 + 100)
    gt_warm_epochs: int = 20
    gt_fit_epochs: int = 100
    # the "stable" ground-truth start (sweep.GT_STARTS): App. D's 10 encoder restarts, and
    # a learning-rate warm-up of the ground-truth members (ours, not the paper's)
    gt_encoder_restarts: int = 10
    gt_lr_warmup_epochs: int = 10
    # hyper-parameter grids (App. D)
    iwae_S: tuple[int, ...] = (3, 10, 20)
    lin_T: tuple[float, ...] = (0.05, 0.1)
    lin_R: tuple[int, ...] = (5, 10)
    ss_alpha: tuple[float, ...] = (0.0, 0.1, 1.0)
    ss_gamma: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0)
    uci_noise_var: tuple[float, ...] = (0.01, 0.5)
    # evaluation
    eval_elbo_samples: int = 10      #: MC samples per x for the reported -ELBO
    eval_repeats: int = 3            #: noise draws averaged for the validation objective
    eval_is_samples: int = 1000      #: importance samples for log p(x) (selected models)
    # engine
    max_models: int = 40             #: largest ensemble trained at once
    seed: int = 0                    #: base seed of all member seeds

    @property
    def n_restarts(self) -> int:
        return self.n_gt_restarts + self.n_random_restarts

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> dict:
        """A short, printable summary of the protocol (for notebooks and tables)."""
        return {
            "profile": self.name,
            "data versions": self.n_versions,
            "train/val/test": f"{self.n_train}/{self.n_val}/{self.n_test}",
            "restarts (synthetic)": f"{self.n_restarts} ({self.n_gt_restarts} ground truth + "
                                    f"{self.n_random_restarts} random)",
            "restarts (UCI)": self.n_restarts_real,
            "epochs (synthetic / UCI)": f"{self.epochs} / {self.epochs_real}",
            "optimiser": f"Adam, lr {self.lr}, batch {self.batch_size}",
            "GT encoder fit (epochs)": f"{self.gt_warm_epochs} supervised + {self.gt_fit_epochs} objective",
            "GT start": f"best of {self.gt_encoder_restarts} encoders; lr warm-up {self.gt_lr_warmup_epochs} epochs",
            "IWAE S": list(self.iwae_S),
            "LIN T x R": f"{list(self.lin_T)} x {list(self.lin_R)}",
        }


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick", n_versions=2, n_train=1000, n_val=500, n_test=500,
        n_gt_restarts=1, n_random_restarts=1, n_restarts_real=2,
        epochs=5, epochs_real=20, gt_warm_epochs=5, gt_fit_epochs=5,
        gt_encoder_restarts=2, gt_lr_warmup_epochs=1,
        iwae_S=(3, 20), lin_T=(0.1,), lin_R=(5,), ss_alpha=(0.1,), ss_gamma=(1.0,),
        uci_noise_var=(0.5,), eval_elbo_samples=2, eval_repeats=1, eval_is_samples=50,
    ),
    "reduced": Profile(
        name="reduced", n_versions=4, n_train=5000, n_val=2000, n_test=2000,
        n_gt_restarts=3, n_random_restarts=3, n_restarts_real=3,
        epochs=100, epochs_real=300, gt_warm_epochs=10, gt_fit_epochs=50,
        gt_encoder_restarts=3,
        ss_alpha=(0.1, 1.0), ss_gamma=(1.0, 5.0),
        eval_elbo_samples=5, eval_repeats=2, eval_is_samples=500, max_models=40,
    ),
    "paper": Profile(
        name="paper", n_versions=5, n_train=5000, n_val=2000, n_test=2000,
        n_gt_restarts=5, n_random_restarts=5, n_restarts_real=5,
        epochs=100, epochs_real=20000, gt_warm_epochs=20, gt_fit_epochs=100, max_models=40,
    ),
}


def get_profile(name: str | Profile) -> Profile:
    """The profile called ``name`` ("quick", "reduced" or "paper")."""
    if isinstance(name, Profile):
        return name
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}")
    return PROFILES[name]


#: what a page prints about its protocol by default (keys of ``Profile.describe``)
PAGE_KEYS = ("data versions", "train/val/test", "restarts (synthetic)", "epochs (synthetic / UCI)")


def page_setup(profile: str, seed: int, keys: tuple[str, ...] = PAGE_KEYS) -> Profile:
    """The opening cell of a book page: seeds and threads (``set_seed``), the empty-panel
    check of every figure (``plots.install_empty_panel_check``), pandas display
    precision, and the protocol lines of ``profile`` the page depends on (none when
    ``keys`` is empty). Returns it."""
    set_seed(seed)
    install_empty_panel_check()     # a drawn panel with no data in view says so on the page
    pd.set_option("display.precision", 3)
    prof = get_profile(profile)
    print("profile:", prof.name)
    if keys:
        print({k: v for k, v in prof.describe().items() if k in keys})
    return prof
