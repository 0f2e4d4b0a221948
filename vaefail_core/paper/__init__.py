"""The paper's side of the book: its numbers, its claims and how ours are judged.

  sec5_2, sec5, sec6, sec7, sec8
              the page modules of the paper's sections: Sec. 5.2 (Eq. 6, Figs. 2-3),
              Sec. 5 and App. E.1-E.2 (Table 2), Sec. 6, Sec. 7 (Tables 3-4), Sec. 8
              (Case A, Case B / Table 1, Figs. 23-24)
  appA_C, appD, appE, appE3, appF, appG_H
              the page modules of the appendices: A and C (theory), D (protocol and
              selection rules), E.1-E.2 (the claims of Figs. 8-15), E.3 (Tables 5-6 on
              UCI data), F (the projection defence), G-H (the data sets)
  records     the named sweeps (``vaefail sweep NAME``) and the one missing-record
              policy the pages use (``page_records``)
  robustness  the orderings of Tables 2-4 under other two-sample tests
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
module may use them; ``records`` sits above the page modules whose sweeps it names, ``claims`` and
``scorecard`` above all of them; no page module imports ``records`` or ``claims``.
"""
