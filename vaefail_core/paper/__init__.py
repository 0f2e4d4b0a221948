"""The paper's side of the book: its numbers, its claims and how ours are judged.

  sec6, sec8, appA_C, appF
              the page modules of Sec. 6, Sec. 8 (Case A, Case B / Table 1, Figs. 23-24),
              App. A and C, and App. F (the projection defence)
  reference   every number the paper prints that the book compares with (Tables 1-6,
              Eq. 6, Case A of Sec. 8), the one place they are typed
  verdict     the one verdict rule and its vocabulary (reproduced / within noise /
              differs / not comparable / not run), with the statistical tests
  claims      the claims registry: every cell of Tables 1-6, the numbers in the text
              and the orderings and effects the tables support, each with how ours is
              computed from the results cache
  scorecard   the registry judged under a profile: the book's front page,
              ``results/<profile>/scorecard.csv`` and ``vaefail scorecard``

``reference`` and ``verdict`` import nothing from the rest of the package, so every
module may use them; ``claims`` and ``scorecard`` sit above the page modules.
``sec5``, ``sec7`` and ``uci_tables`` are still at the package's top level.
"""
