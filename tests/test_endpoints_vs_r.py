"""Independent cross-check of the endpoint statistics against R.

R's `survival` (survfit, conf.type = "log-log"), `binom.test` and
`wilcox.test` are the references most clinical statisticians check against.
Each reference runs once per module in `Rscript` on data written to a temp CSV;
R writes its numbers (17 significant digits) to a CSV we read back.

Where R and the warehouse follow different conventions the test asserts the
documented difference with the literal numbers of both (docs/endpoints.md,
"Cross-check against R"), never a loosened tolerance.
"""

from __future__ import annotations

import csv
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from trialdw.endpoints import km
from trialdw.endpoints.proportions import clopper_pearson
from trialdw.endpoints.singlecell import wilcoxon_p

pytestmark = pytest.mark.slow

LANDMARKS = (3 * km.DAYS_PER_MONTH, 12 * km.DAYS_PER_MONTH)  # 91.3125, 365.25 days
# Observed agreement is ~1e-15; 1e-12 leaves room for libm differences only.
CLOSE = {"rel": 1e-12, "abs": 1e-12}


def _rscript_with(package: str) -> str:
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("R cross-check skipped: Rscript is not on PATH (CI installs r-base via .ci/run)")
    probe = subprocess.run(
        [rscript, "--vanilla", "-e", f'quit(status = if (requireNamespace("{package}", quietly = TRUE)) 0 else 1)'],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"R cross-check skipped: the R package '{package}' is not installed")
    return rscript


def run_r(tmp: Path, script: str, rows: list[dict], *args: str) -> list[dict]:
    """Write `rows` to input.csv, run `script` with (input, output, *args), read output.csv."""
    rscript = _rscript_with("survival")
    source, given, result = tmp / "check.R", tmp / "input.csv", tmp / "output.csv"
    source.write_text(script, encoding="utf-8")
    with given.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    done = subprocess.run(
        [rscript, "--vanilla", str(source), str(given), str(result), *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    with result.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _num(text: str) -> float | None:
    return None if text == "NA" else float(text)


# ---------------------------------------------------------------- Kaplan–Meier

R_KM = r"""
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
landmarks <- as.numeric(strsplit(args[3], ",")[[1]])
out <- list()
add <- function(case, what, time, value)
  out[[length(out) + 1]] <<- data.frame(case = case, what = what, time = time, value = unname(value))
for (case in unique(d$case)) {
  fit <- survfit(Surv(time, status) ~ 1, data = d[d$case == case, ], conf.type = "log-log")
  tab <- summary(fit)$table
  add(case, c("table_median", "table_lcl", "table_ucl"), NA, tab[c("median", "0.95LCL", "0.95UCL")])
  q <- quantile(fit, 0.5)
  add(case, c("quantile_median", "quantile_lcl", "quantile_ucl"), NA, c(q$quantile, q$lower, q$upper))
  s <- summary(fit, times = landmarks, extend = TRUE)
  add(case, "rate", s$time, s$surv); add(case, "rate_lcl", s$time, s$lower); add(case, "rate_ucl", s$time, s$upper)
  s <- summary(fit)
  if (length(s$time) > 0) {
    add(case, "surv", s$time, s$surv); add(case, "lcl", s$time, s$lower); add(case, "ucl", s$time, s$upper)
  }
}
res <- do.call(rbind, out)
res$time <- sprintf("%.17g", res$time)
res$value <- sprintf("%.17g", res$value)
write.csv(res, args[2], row.names = FALSE)
"""


def _realistic(seed: int = 20261119, n: int = 120):
    """Exponential survival (median ~200 days) with uniform censoring, whole days:
    many ties, like real ADTTE data."""
    rng = np.random.default_rng(seed)
    event = np.ceil(rng.exponential(200 / math.log(2), n))
    censor = np.ceil(rng.uniform(30, 700, n))
    return np.minimum(event, censor).tolist(), (event <= censor).astype(int).tolist()


# case → (days, status 1 = event). Each one targets a situation named in the docs.
KM_CASES = {
    # Events and censorings share times (censored at t are at risk at t).
    "ties": (
        [30, 30, 30, 61, 61, 61, 92, 92, 120, 150, 150, 200, 240, 240, 300, 365, 400, 400, 420, 500],
        [1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 0, 0],
    ),
    # 30 subjects, 4 events, first after 3 months: median not reached, S(3 months) = 1.
    "heavy_censoring": ([95, 180, 250, 330, *list(range(100, 620, 20))], [1, 1, 1, 1] + [0] * 26),
    # All events at 30..180: S = 0.5 exactly on [90, 120).
    "half_step": ([30, 60, 90, 120, 150, 180], [1] * 6),
    # S reaches 0.5 at 80 and stays there to the end of follow-up (400, censored).
    "half_to_end": ([40, 80, 200, 400], [1, 1, 0, 0]),
    "n1_event": ([45], [1]),
    "n2": ([20, 200], [1, 0]),
    # 11 subjects, all events: S = k/11 is never 0.5, S ends at 0.
    "all_events": ([10, 25, 40, 60, 75, 91, 120, 180, 240, 300, 360], [1] * 11),
    # Events exactly on both landmarks: the step at t counts (right-continuous).
    "step_on_landmark": ([50, 91.3125, 150, 365.25, 400, 500], [1, 1, 0, 1, 0, 0]),
    # Follow-up ends (censored) before 12 months with S > 0.
    "short_follow_up": ([20, 60, 100, 200, 300], [1, 0, 1, 0, 0]),
    "realistic": _realistic(),
}


@pytest.fixture(scope="module")
def r_km(tmp_path_factory):
    rows = [
        {"case": case, "time": t, "status": s}
        for case, (days, status) in KM_CASES.items()
        for t, s in zip(days, status, strict=False)
    ]
    out = run_r(tmp_path_factory.mktemp("r_km"), R_KM, rows, ",".join(repr(t) for t in LANDMARKS))
    by_case: dict[str, dict] = {case: {} for case in KM_CASES}
    for row in out:
        key = row["what"] if row["time"] == "NA" else (row["what"], float(row["time"]))
        by_case[row["case"]][key] = _num(row["value"])
    return by_case


def _fit(case):
    days, status = KM_CASES[case]
    return km.fit(days, [1 - s for s in status])  # km.fit takes CNSR


def _r_median(r, prefix="table"):
    return tuple(r[f"{prefix}_{k}"] for k in ("median", "lcl", "ucl"))


def _r_rate(r, t):
    return tuple(r[(k, t)] for k in ("rate", "rate_lcl", "rate_ucl"))


@pytest.mark.parametrize("case", KM_CASES)
def test_curve_and_log_log_band_agree_with_r_at_every_event_time(case, r_km):
    fit, r = _fit(case), r_km[case]
    surv, band = fit.survival_function_.iloc[:, 0], fit.confidence_interval_
    times = sorted(t for what, t in (k for k in r if isinstance(k, tuple)) if what == "surv")
    assert times, "every case has at least one event"
    for t in times:
        assert surv.loc[t] == pytest.approx(r[("surv", t)], **CLOSE)
        if r[("surv", t)] == 0:
            # Documented difference: where S = 0 the log(-log) band is undefined;
            # R reports NA, lifelines (and so the warehouse) reports (0, 0).
            assert r[("lcl", t)] is None and r[("ucl", t)] is None
            assert tuple(band.loc[t]) == (0.0, 0.0)
        else:
            assert band.loc[t].iloc[0] == pytest.approx(r[("lcl", t)], **CLOSE)
            assert band.loc[t].iloc[1] == pytest.approx(r[("ucl", t)], **CLOSE)


# Cases where S never sits at exactly 0.5 and the upper band crosses 0.5 before
# S reaches 0 (or not at all): warehouse median and CI == R's, to the day.
MEDIAN_AGREES = ["ties", "heavy_censoring", "all_events", "step_on_landmark", "short_follow_up", "realistic"]


@pytest.mark.parametrize("case", MEDIAN_AGREES)
def test_median_and_its_ci_equal_r(case, r_km):
    r = r_km[case]
    assert _r_median(r, "table") == _r_median(r, "quantile")
    assert km.median_days(_fit(case)) == _r_median(r)


def test_median_reached_and_not_reached_cases_are_both_covered(r_km):
    assert r_km["realistic"]["table_median"] is not None
    assert r_km["heavy_censoring"]["table_median"] is None  # not reached → NULL
    assert r_km["ties"]["table_median"] is not None


def test_median_on_a_flat_half_r_takes_the_midpoint_warehouse_the_first_time(r_km):
    # half_step: S = 5/6, 4/6, 3/6 at 30, 60, 90, then 2/6 at 120. S = 0.5 on [90, 120).
    # Spec: first time S(t) <= 0.5 → 90. R (print/summary table and quantile())
    # reports the midpoint of the flat stretch, (90 + 120) / 2 = 105.
    r = r_km["half_step"]
    assert r["table_median"] == r["quantile_median"] == 105.0
    median, lcl, ucl = km.median_days(_fit("half_step"))
    assert median == 90.0
    # LCL agrees; the UCL differs by the S = 0 convention (band (0, 0) at 180 vs NA).
    assert lcl == r["table_lcl"] == 30.0
    assert ucl == 180.0 and r["table_ucl"] is None


def test_median_on_a_half_lasting_to_the_end_r_disagrees_with_itself(r_km):
    # half_to_end: S = 0.75 at 40, 0.5 from 80 to the last (censored) time 400.
    # Warehouse: 80. R's print/summary table: 80 as well (it takes the midpoint
    # only when S later drops below 0.5), but quantile() gives the midpoint with
    # the last time, (80 + 400) / 2 = 240. The upper band never reaches 0.5.
    r = r_km["half_to_end"]
    assert r["table_median"] == 80.0
    assert r["quantile_median"] == 240.0
    assert km.median_days(_fit("half_to_end")) == (80.0, 40.0, None)
    assert (r["table_lcl"], r["table_ucl"]) == (40.0, None)
    # n2: event at 20, censored at 200: S = 0.5 from 20 on. Table 20, quantile 110.
    r2 = r_km["n2"]
    assert _r_median(r2, "table") == (20.0, 20.0, None)
    assert _r_median(r2, "quantile") == (110.0, 20.0, None)
    assert km.median_days(_fit("n2")) == (20.0, 20.0, None)


def test_median_ci_when_only_the_zero_step_crosses_half_differs_by_the_band_convention(r_km):
    # all_events (11 subjects): S(91) = 5/11 is the first ≤ 0.5 and the upper
    # band is 0.4417 at 240, before S reaches 0 at 360: both say 91 (25, 240).
    r = r_km["all_events"]
    assert _r_median(r) == (91.0, 25.0, 240.0)
    assert km.median_days(_fit("all_events")) == (91.0, 25.0, 240.0)
    # half_step: the upper band is 0.5168 at 150 and undefined from 180 (S = 0):
    # R says UCL not reached, the warehouse reads its (0, 0) band → 180 (see
    # test_median_on_a_flat_half_…). n = 1: S drops from 1 to 0 at 45.
    # R: median 45, CI NA; warehouse: 45 (45, 45).
    r1 = r_km["n1_event"]
    assert _r_median(r1) == (45.0, None, None)
    assert km.median_days(_fit("n1_event")) == (45.0, 45.0, 45.0)


RATE_AGREES = [
    ("ties", 0),
    ("ties", 1),
    ("heavy_censoring", 0),
    ("heavy_censoring", 1),
    ("half_step", 0),
    ("half_to_end", 0),
    ("half_to_end", 1),
    ("n2", 0),
    ("all_events", 0),
    ("step_on_landmark", 0),
    ("step_on_landmark", 1),
    ("short_follow_up", 0),
    ("realistic", 0),
    ("realistic", 1),
]


@pytest.mark.parametrize(("case", "landmark"), RATE_AGREES)
def test_landmark_rate_and_band_equal_r_within_follow_up(case, landmark, r_km):
    t = LANDMARKS[landmark]
    r = _r_rate(r_km[case], t)
    mine = km.rate_at(_fit(case), t)
    assert mine == pytest.approx(r, **CLOSE)


def test_rate_is_the_step_function_at_t_including_a_step_exactly_at_t(r_km):
    # step_on_landmark: events at 50, 91.3125; S(91.3125) = 4/6 counts the event at t.
    assert r_km["step_on_landmark"][("rate", LANDMARKS[0])] == pytest.approx(4 / 6, **CLOSE)
    # …and at 365.25: 4/6 * (2/3) (one censored at 150, 3 at risk at 365.25) = 4/9.
    assert r_km["step_on_landmark"][("rate", LANDMARKS[1])] == pytest.approx(4 / 9, **CLOSE)
    # heavy_censoring: no event before 95 → S(3 months) = 1 with band (1, 1) in both.
    assert _r_rate(r_km["heavy_censoring"], LANDMARKS[0]) == (1.0, 1.0, 1.0)
    assert km.rate_at(_fit("heavy_censoring"), LANDMARKS[0]) == (1.0, 1.0, 1.0)


def test_rate_past_follow_up_r_extend_carries_s_forward_warehouse_says_not_estimable(r_km):
    # short_follow_up: events at 20 (5 at risk) and 100 (3 at risk), last time 300
    # (censored): S = 0.8 · 2/3 there.
    # 12 months = 365.25 is past it. R extend = TRUE carries S(300) forward;
    # the warehouse writes NULL (docs/endpoints.md: not estimable past follow-up).
    r = _r_rate(r_km["short_follow_up"], LANDMARKS[1])
    assert r[0] == pytest.approx(0.8 * (2 / 3), **CLOSE)
    assert km.rate_at(_fit("short_follow_up"), LANDMARKS[1]) == (None, None, None)
    # n2: censored at 200 with S = 0.5: R (0.5, …) at 12 months, warehouse NULL.
    assert _r_rate(r_km["n2"], LANDMARKS[1])[0] == 0.5
    assert km.rate_at(_fit("n2"), LANDMARKS[1]) == (None, None, None)


def test_rate_after_the_curve_reached_zero_r_band_is_na_warehouse_band_is_zero(r_km):
    # half_step at 12 months: S = 0 since 180. R: (0, NA, NA); warehouse (0, 0, 0).
    assert _r_rate(r_km["half_step"], LANDMARKS[1]) == (0.0, None, None)
    assert km.rate_at(_fit("half_step"), LANDMARKS[1]) == (0.0, 0.0, 0.0)
    assert _r_rate(r_km["n1_event"], LANDMARKS[0]) == (0.0, None, None)
    assert km.rate_at(_fit("n1_event"), LANDMARKS[0]) == (0.0, 0.0, 0.0)
    assert _r_rate(r_km["all_events"], LANDMARKS[1]) == (0.0, None, None)
    assert km.rate_at(_fit("all_events"), LANDMARKS[1]) == (0.0, 0.0, 0.0)


# ------------------------------------------------------------- Clopper–Pearson

R_BINOM = r"""
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
ci <- t(mapply(function(x, n) binom.test(x, n)$conf.int, d$x, d$n))
write.csv(data.frame(x = d$x, n = d$n, lcl = sprintf("%.17g", ci[, 1]), ucl = sprintf("%.17g", ci[, 2])),
          args[2], row.names = FALSE)
"""

BINOM_CASES = [
    (0, 1),
    (1, 1),
    (0, 10),
    (10, 10),
    (1, 10),
    (3, 7),
    (17, 40),
    (50, 100),
    (1, 300),
    (299, 300),
    (0, 300),
    (123, 457),
]


def test_clopper_pearson_equals_r_binom_test(tmp_path):
    out = run_r(tmp_path, R_BINOM, [{"x": x, "n": n} for x, n in BINOM_CASES])
    assert len(out) == len(BINOM_CASES)
    for row in out:
        x, n = int(row["x"]), int(row["n"])
        estimate, lcl, ucl = clopper_pearson(x, n)
        assert estimate == x / n
        assert (lcl, ucl) == pytest.approx((float(row["lcl"]), float(row["ucl"])), **CLOSE), (x, n)
    # The exact interval's one-sided ends are exact in both: 0/n → LCL 0, n/n → UCL 1.
    assert clopper_pearson(0, 10)[1] == 0.0 and clopper_pearson(10, 10)[2] == 1.0


# ------------------------------------------------------- Wilcoxon signed-rank

R_WILCOX = r"""
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
res <- do.call(rbind, lapply(unique(d$case), function(case) {
  x <- d[d$case == case, ]
  w <- suppressWarnings(wilcox.test(x$post, x$base, paired = TRUE))
  data.frame(case = case, p = sprintf("%.17g", w$p.value))
}))
write.csv(res, args[2], row.names = FALSE)
"""

_rng = np.random.default_rng(7)
# (BASE, on-treatment AVAL). Values are multiples of 1/64 so AVAL − BASE is exact
# in binary and R and Python see the same ties and zeros.
WILCOX_CASES = {
    # 8 distinct non-zero differences: exact null distribution in both.
    # Differences −.25 −.1875 +.0625 −.3125 −.5 +.03125 −.375 −.4375.
    "exact_no_ties": (
        [0.5, 0.25, 0.75, 0.625, 0.875, 0.125, 0.5, 0.75],
        [0.25, 0.0625, 0.8125, 0.3125, 0.375, 0.15625, 0.125, 0.3125],
    ),
    # Tied absolute differences (±0.125 twice): normal approximation, tie-corrected.
    "ties": ([0.5, 0.5, 0.25, 0.75, 0.25, 0.625], [0.375, 0.625, 0.125, 0.5, 0.0625, 0.25]),
    # A zero difference: dropped, then normal approximation (R: "cannot compute exact p-value with zeroes").
    "zero": ([0.5, 0.25, 0.75, 0.125, 0.625, 0.375], [0.5, 0.0625, 0.5, 0.015625, 0.125, 0.3125]),
    # 60 distinct differences: n ≥ 50 → normal approximation with continuity correction.
    "n60": (list(np.full(60, 1.0)), list(1.0 + (np.arange(1, 61) * _rng.choice([-1, 1], 60) + 5) / 64)),
}


def test_wilcoxon_signed_rank_p_equals_r_wilcox_test(tmp_path):
    rows = [
        {"case": case, "base": b, "post": a}
        for case, (base, post) in WILCOX_CASES.items()
        for b, a in zip(base, post, strict=True)
    ]
    out = {row["case"]: float(row["p"]) for row in run_r(tmp_path, R_WILCOX, rows)}
    assert set(out) == set(WILCOX_CASES)
    for case, (base, post) in WILCOX_CASES.items():
        differences = np.asarray(post) - np.asarray(base)
        assert wilcoxon_p(differences) == pytest.approx(out[case], **CLOSE), case
    # Hand check of the exact case: the positive differences have ranks 1 and 2
    # by |d|, so V = 3; subsets of {1..8} with rank sum ≤ 3: {}, {1}, {2}, {3},
    # {1,2} → exact two-sided p = 2 · 5/256.
    assert out["exact_no_ties"] == pytest.approx(2 * 5 / 256, **CLOSE)


# ------------------------------------------- hazard ratio (Cox PH) and log-rank

R_COX = r"""
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
mine <- read.csv(args[3], stringsAsFactors = FALSE)  # case, arm, beta: the warehouse's log(HR)
out <- list()
add <- function(case, what, value) out[[length(out) + 1]] <<- data.frame(case = case, what = what, value = value)
quiet_fit <- function(...) {
  warned <- FALSE
  fit <- withCallingHandlers(coxph(...), warning = function(w) { warned <<- TRUE; invokeRestart("muffleWarning") })
  list(fit = fit, warned = warned)
}
for (case in unique(d$case)) {
  x <- d[d$case == case, ]
  s <- survdiff(Surv(time, status) ~ arm, data = x)
  add(case, "chisq", s$chisq)
  add(case, "logrank_p", pchisq(s$chisq, length(s$n) - 1, lower.tail = FALSE))
  for (arm in setdiff(sort(unique(x$arm)), "A")) {  # "A" is the reference arm of every case
    pair <- x[x$arm %in% c("A", arm), ]
    pair$arm <- factor(pair$arm, levels = c("A", arm))
    r <- quiet_fit(Surv(time, status) ~ arm, data = pair, ties = "efron")
    ci <- exp(confint(r$fit))
    add(case, paste(arm, c("hr", "lcl", "ucl", "coef", "warned"), sep = "_"),
        c(exp(coef(r$fit)), ci[1], ci[2], coef(r$fit), as.numeric(r$warned)))
    b <- mine$beta[mine$case == case & mine$arm == arm]
    if (length(b) == 1 && !is.na(b)) {
      # R's own score test and information at the warehouse's beta (no iteration)
      at <- coxph(Surv(time, status) ~ arm, data = pair, ties = "efron", init = b,
                  control = coxph.control(iter.max = 0))
      se <- sqrt(vcov(at)[1, 1])
      add(case, paste(arm, c("score_at_mine", "lcl_at_mine", "ucl_at_mine"), sep = "_"),
          c(at$score, exp(b - qnorm(0.975) * se), exp(b + qnorm(0.975) * se)))
    }
  }
}
res <- do.call(rbind, out)
res$value <- sprintf("%.17g", res$value)
write.csv(res, args[2], row.names = FALSE)
"""


def _two_arm_sim(seed: int, n_a: int, n_b: int, hr: float, median_a: float = 200.0, follow_up=(30, 700)):
    """Exponential survival (reference median `median_a` days, hazard × `hr` in arm B),
    uniform censoring, whole days: ties within and across arms, as in real ADTTE data."""
    rng = np.random.default_rng(seed)
    arm = np.array(["A"] * n_a + ["B"] * n_b)
    event = np.ceil(rng.exponential(median_a / math.log(2) / np.where(arm == "B", hr, 1.0)))
    censor = np.ceil(rng.uniform(*follow_up, arm.size))
    return np.minimum(event, censor).tolist(), (event <= censor).astype(int).tolist(), arm.tolist()


def _three_arm_sim():
    """Arms A (reference), B (HR 0.6) and C (HR 1.3), 30 subjects each."""
    days, status, arms = [], [], []
    for seed, arm, hr in ((31, "A", 1.0), (32, "B", 0.6), (33, "C", 1.3)):
        d, e, _ = _two_arm_sim(seed, 0, 30, hr)
        days, status, arms = days + d, status + e, arms + [arm] * 30
    return days, status, arms


# case → (days, status 1 = event, arm). "A" is the reference arm.
COX_CASES = {
    # Few distinct times: events and censorings tied within and across the arms (Efron matters).
    "ties": (
        [30, 30, 30, 30, 61, 61, 61, 92, 92, 92, 120, 120, 150, 150, 150, 200, 200, 240, 240, 300] * 2,
        [1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 1, 0, 0] + [1, 0, 0, 1, 1, 0, 0, 1, 0, 0] * 2,
        ["A", "B"] * 20,
    ),
    # 60 subjects, ~85 % censored: few events in either arm.
    "heavy_censoring": _two_arm_sim(11, 30, 30, 0.6, median_a=900, follow_up=(20, 300)),
    # 10 vs 50 subjects.
    "unequal_arms": _two_arm_sim(12, 10, 50, 0.5),
    # Arm B has exactly one event (early, while arm A is at risk): estimable, wide CI.
    "few_events": (
        [15, 40, 60, 75, 90, 110, 130, 160, 200, 250, 20, 300, 300, 310, 320, 330, 340, 350, 360, 365],
        [1, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ["A"] * 10 + ["B"] * 10,
    ),
    # 120 simulated subjects, true HR 0.7.
    "realistic": _two_arm_sim(20261120, 60, 60, 0.7),
    # Three arms, 30 each: pairwise HR of B and of C vs A (two-arm subsets), global log-rank on 2 df.
    "three_arms": _three_arm_sim(),
    # Arm B never has an event: the partial likelihood has no finite maximum.
    "no_events_in_one_arm": (
        [10, 20, 30, 40, 50, 25, 35, 45, 55, 65],
        [1, 1, 1, 0, 1, 0, 0, 0, 0, 0],
        ["A"] * 5 + ["B"] * 5,
    ),
}
# R's coxph stops when the log-likelihood changes by less than eps = 1e-9 (relative),
# one Newton step past that: its β is then within ~1e-10 (relative) of the maximum
# (measured: ≤ 1.3e-10 here), so the HR and CI agree to 1e-9 at R's defaults.
# The warehouse iterates to the root of the score itself: R's score test statistic
# U(β)²/I(β) at the warehouse's β is ≤ 1e-24 (measured ≤ 1e-28; at R's own default β it
# is ~1e-20), and the Wald CI from R's information at that β agrees to 1e-13.
COX_R_DEFAULT = {"rel": 1e-9, "abs": 0}
COX_AT_MINE = {"rel": 1e-13, "abs": 0}
SCORE_AT_ROOT = 1e-24


@pytest.fixture(scope="module")
def r_cox(tmp_path_factory):
    rows = [
        {"case": case, "time": t, "status": s, "arm": a}
        for case, (days, status, arms) in COX_CASES.items()
        for t, s, a in zip(days, status, arms, strict=True)
    ]
    tmp = tmp_path_factory.mktemp("r_cox")
    betas = tmp / "mine.csv"
    with betas.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["case", "arm", "beta"])
        for case, (_, _, arms) in COX_CASES.items():
            for arm in sorted(set(arms) - {"A"}):
                hr = _mine_hr(case, arm)[0]
                writer.writerow([case, arm, "NA" if hr is None else repr(math.log(hr))])
    out = run_r(tmp, R_COX, rows, str(betas))
    by_case: dict[str, dict] = {case: {} for case in COX_CASES}
    for row in out:
        by_case[row["case"]][row["what"]] = _num(row["value"])
    return by_case


def _mine_hr(case: str, arm: str):
    from trialdw.endpoints.hazard_ratio import hazard_ratio

    days, status, arms = COX_CASES[case]
    keep = [i for i, a in enumerate(arms) if a in ("A", arm)]
    return hazard_ratio([days[i] for i in keep], [status[i] for i in keep], [arms[i] == arm for i in keep])


HR_AGREES = [
    ("ties", "B"),
    ("heavy_censoring", "B"),
    ("unequal_arms", "B"),
    ("few_events", "B"),
    ("realistic", "B"),
    ("three_arms", "B"),
    ("three_arms", "C"),
]


@pytest.mark.parametrize(("case", "arm"), HR_AGREES)
def test_hazard_ratio_and_wald_ci_equal_r_coxph_efron(case, arm, r_cox):
    r = r_cox[case]
    assert r[f"{arm}_warned"] == 0, "R fitted without a warning"
    hr, lcl, ucl = _mine_hr(case, arm)
    assert (hr, lcl, ucl) == pytest.approx(tuple(r[f"{arm}_{k}"] for k in ("hr", "lcl", "ucl")), **COX_R_DEFAULT)
    # the warehouse's β is where R's own score is zero, and R's information there gives its CI
    assert 0 <= r[f"{arm}_score_at_mine"] <= SCORE_AT_ROOT
    assert (lcl, ucl) == pytest.approx((r[f"{arm}_lcl_at_mine"], r[f"{arm}_ucl_at_mine"]), **COX_AT_MINE)


def test_hazard_ratio_cases_cover_what_they_claim(r_cox):
    status = COX_CASES["heavy_censoring"][1]
    assert sum(status) / len(status) < 0.25  # heavy censoring
    ties = COX_CASES["ties"]
    assert len(set(ties[0])) < len(ties[0]) / 3  # many tied times, across both arms
    unequal = COX_CASES["unequal_arms"][2]
    assert (unequal.count("A"), unequal.count("B")) == (10, 50)
    few = COX_CASES["few_events"]
    assert sum(s for s, a in zip(few[1], few[2], strict=True) if a == "B") == 1
    assert r_cox["few_events"]["B_ucl"] / r_cox["few_events"]["B_lcl"] > 50  # one event: a wide CI
    assert len(COX_CASES["realistic"][0]) == 120


def test_hazard_ratio_without_a_finite_maximum_is_null_where_r_warns(r_cox):
    # Arm B has no event: the partial likelihood grows as β → −∞. R's coxph warns
    # ("Loglik converged before variable 1; beta may be infinite") and reports a
    # coefficient that is an artefact of its stopping rule; the warehouse writes NULL.
    r = r_cox["no_events_in_one_arm"]
    assert r["B_warned"] == 1 and r["B_coef"] < -15
    assert _mine_hr("no_events_in_one_arm", "B") == (None, None, None)


@pytest.mark.parametrize("case", COX_CASES)
def test_logrank_p_equals_r_survdiff(case, r_cox):
    from lifelines.statistics import multivariate_logrank_test

    from trialdw.endpoints.logrank import logrank_p

    days, status, arms = COX_CASES[case]
    assert logrank_p(days, status, arms) == pytest.approx(r_cox[case]["logrank_p"], **CLOSE)
    chisq = multivariate_logrank_test(days, arms, status).test_statistic
    assert chisq == pytest.approx(r_cox[case]["chisq"], **CLOSE)


# ------------------------------------------------ difference in proportions

R_NEWCOMBE = r"""
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
wilson <- function(k, n) suppressWarnings(prop.test(k, n, correct = FALSE)$conf.int)
res <- do.call(rbind, lapply(seq_len(nrow(d)), function(i) {
  k1 <- d$k1[i]; n1 <- d$n1[i]; k0 <- d$k0[i]; n0 <- d$n0[i]
  p1 <- k1 / n1; p0 <- k0 / n0; w1 <- wilson(k1, n1); w0 <- wilson(k0, n0)
  data.frame(i = i, d = sprintf("%.17g", p1 - p0),
             lcl = sprintf("%.17g", p1 - p0 - sqrt((p1 - w1[1])^2 + (w0[2] - p0)^2)),
             ucl = sprintf("%.17g", p1 - p0 + sqrt((w1[2] - p1)^2 + (p0 - w0[1])^2)))
}))
write.csv(res, args[2], row.names = FALSE)
"""

# (k1, n1, k0, n0) → the 95 % limits of Newcombe (1998), table II, method 10, to 4 decimals
# (hand-checked), or None: checked against R only.
NEWCOMBE_CASES = {
    (56, 70, 48, 80): (0.0524, 0.3339),
    (9, 10, 3, 10): (0.1705, 0.8090),
    (6, 7, 2, 7): None,
    (5, 56, 0, 29): (-0.0381, 0.1926),
    (0, 10, 0, 20): (-0.1611, 0.2775),
    (0, 10, 0, 10): (-0.2775, 0.2775),
    (10, 10, 0, 20): (0.6791, 1.0000),
    (10, 10, 0, 10): (0.6075, 1.0000),
    (1, 24, 3, 25): None,
    (12, 40, 12, 40): None,
    (17, 123, 31, 119): None,
}


def test_newcombe_difference_equals_r_from_prop_test_wilson_and_the_published_values(tmp_path):
    from trialdw.endpoints.risk_difference import newcombe_difference

    cases = list(NEWCOMBE_CASES)
    out = run_r(tmp_path, R_NEWCOMBE, [{"k1": a, "n1": b, "k0": c, "n0": e} for a, b, c, e in cases])
    for case, row in zip(cases, out, strict=True):
        mine = newcombe_difference(*case)
        assert mine == pytest.approx((float(row["d"]), float(row["lcl"]), float(row["ucl"])), **CLOSE), case
        published = NEWCOMBE_CASES[case]
        if published:
            assert (round(mine[1], 4), round(mine[2], 4)) == published, case
