//! The BG/NBD model of Fader, Hardie & Lee (2005), "Counting your customers the easy way": the
//! likelihood, its maximum-likelihood fit, the limits the fit can run into, and the per-buyer
//! predictions. Numbers only: no SQL, no I/O.
//!
//! A buyer is summarised by `x` (repeat purchases), `t_x` (time of the last purchase since the
//! first) and `T` (time from the first purchase to the end of the observation). The model: while
//! alive, a buyer purchases as a Poisson process with rate λ ~ Gamma(r, α); after each purchase
//! they drop out with probability p ~ Beta(a, b). The log-likelihood of one buyer (FHL eq. 6) is
//!
//! ```text
//! ln L = ln Γ(r+x) − ln Γ(r) + r ln α + ln B(a, b+x) − ln B(a, b)
//!        + ln[ (α+T)^−(r+x) + [x>0] · a/(b+x−1) · (α+t_x)^−(r+x) ]
//! ```
//!
//! and the fit maximises the sum over buyers (no penalty) in log-parameters with the L-BFGS
//! solver of the `argmin` crate (pure Rust, maintained, its solvers tested against reference
//! problems), from several starting points, with the analytic gradient. Since `x` is a whole
//! number, ln Γ(r+x) − ln Γ(r) is the sum of ln(r+k) for k < x and its derivative the sum of
//! 1/(r+k): exact, and precise even where r runs off to very large values.
//!
//! **Limits.** When the data show no dropout, the likelihood has no interior maximum: it rises
//! towards a → 0 or b → ∞, where it tends to the NBD model (no dropout, P(alive) = 1) whose
//! log-likelihood is ln Γ(r+x) − ln Γ(r) + r ln α − (r+x) ln(α+T). [`fit`] therefore also fits
//! the NBD model and reports dropout as identified only when the BG/NBD optimum is an interior
//! maximum whose log-likelihood exceeds the NBD's: the solver converged, every parameter lies within
//! about 1e-6..1e6, and the likelihood curves down in every direction there (a solver running
//! towards a limit stops where the likelihood has gone flat). Other limits exist — with no buyer
//! making two repeat purchases, b → 0 (everybody drops after their last purchase) can beat both —
//! and are refused the same way: the fit never reports a point on the way to a limit. Where the NBD itself
//! runs off (r, α → ∞ with r/α fixed), its limit is a Poisson process with one rate for every
//! buyer, λ = Σx / ΣT, which [`fit`] reports instead.
//!
//! **Predictions** (FHL eqs. 11 and 10): P(alive | x, t_x, T) = 1 / (1 + [x>0] · a/(b+x−1) ·
//! ((α+T)/(α+t_x))^(r+x)), and the expected purchases in the next t,
//! E[Y(t) | x, t_x, T] = P(alive) · E[Σ_{j=1..N} (1−p)^(j−1)], where, given the buyer is alive,
//! N ~ NegBin(r+x, z = t/(α+T+t)) counts the purchases a buyer who never dropped would make and
//! p ~ Beta(a, b+x). This is the series of FHL's closed form
//! (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) · ₂F₁(r+x, b+x; a+b+x−1; z)] · P(alive)
//! summed as Σ_n P(N=n) · Σ_{j≤n} m_j with m_j = E[(1−p)^(j−1)] = Π_{i<j−1} (b+x+i)/(a+b+x+i):
//! every term is positive, so it has neither the closed form's removable singularity at a = 1 nor
//! its negative third parameter when a+b+x < 1 (tests check it against SciPy's `hyp2f1` through
//! the closed form).

use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;

/// Buyers with one summary: `n` buyers with `x` repeat purchases, the last `t_x` after the first,
/// observed for `t` after the first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Obs {
    /// Repeat purchases.
    pub x: u32,
    /// Time of the last purchase since the first.
    pub t_x: f64,
    /// Time from the first purchase to the end of the observation.
    pub t: f64,
    /// How many buyers have this summary.
    pub n: f64,
}

/// The fitted model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Model {
    /// BG/NBD with dropout identified.
    BgNbd {
        /// Gamma shape of λ.
        r: f64,
        /// Gamma rate of λ.
        alpha: f64,
        /// Beta a of p.
        a: f64,
        /// Beta b of p.
        b: f64,
    },
    /// The no-dropout limit (a → 0 or b → ∞): every buyer alive.
    Nbd {
        /// Gamma shape of λ.
        r: f64,
        /// Gamma rate of λ.
        alpha: f64,
    },
    /// The NBD's own limit (r, α → ∞): one purchase rate for all.
    Poisson {
        /// Purchases per unit of time.
        rate: f64,
    },
    /// Nothing to fit (no buyer was observed for any time).
    None,
}

/// A fit: the model and the log-likelihoods (sums over buyers).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    /// The model chosen.
    pub model: Model,
    /// Its log-likelihood (the sum over buyers).
    pub log_likelihood: f64,
    /// The best BG/NBD log-likelihood found (equal to `log_likelihood` when it was chosen).
    pub bgnbd_log_likelihood: f64,
    /// The NBD limit's log-likelihood.
    pub nbd_log_likelihood: f64,
}

/// ln Γ(v+k) − ln Γ(v) = Σ_{i<k} ln(v+i), and its derivative Σ 1/(v+i), for k = 0..=max.
fn pochhammer(v: f64, max: u32) -> (Vec<f64>, Vec<f64>) {
    let (mut l, mut d) = (vec![0.0; max as usize + 1], vec![0.0; max as usize + 1]);
    for i in 0..max as usize {
        let w = v + i as f64;
        l[i + 1] = l[i] + w.ln();
        d[i + 1] = d[i] + 1.0 / w;
    }
    (l, d)
}

/// log(e^p + e^q) and the weight of q in it.
fn log_sum(p: f64, q: f64) -> (f64, f64) {
    let m = p.max(q);
    let (ep, eq) = ((p - m).exp(), (q - m).exp());
    (m + (ep + eq).ln(), eq / (ep + eq))
}

fn weight(obs: &[Obs]) -> f64 {
    obs.iter().map(|o| o.n).sum()
}

fn max_x(obs: &[Obs]) -> u32 {
    obs.iter().map(|o| o.x).max().unwrap_or(0)
}

/// Parameters are used as e^θ, θ clamped so that no step of the solver overflows.
fn unlog(theta: &[f64]) -> Vec<f64> {
    theta.iter().map(|t| t.clamp(-LOG_BOUND, LOG_BOUND).exp()).collect()
}

/// |ln θ| beyond which a parameter has run off.
const LOG_BOUND: f64 = 40.0;

/// The BG/NBD log-likelihood (sum over buyers) at (r, α, a, b) and its gradient with respect to
/// the logarithms of the parameters.
pub fn bgnbd_ll(p: [f64; 4], obs: &[Obs]) -> (f64, [f64; 4]) {
    let [r, alpha, a, b] = p;
    let m = max_x(obs);
    let (lr, dr) = pochhammer(r, m);
    let (lb, db) = pochhammer(b, m);
    let (lab, dab) = pochhammer(a + b, m);
    let (mut ll, mut g) = (0.0, [0.0; 4]);
    for o in obs {
        let (x, k) = (o.x as f64, o.x as usize);
        // A1 + A3 and A1 + A4 of FHL, with r ln α − (r+x) ln(α+T) = −r ln(1+T/α) − x ln(α+T).
        let l3 = lr[k] - r * (o.t / alpha).ln_1p() - x * (alpha + o.t).ln();
        let a2 = lb[k] - lab[k];
        let (lse, w4) = if o.x > 0 {
            let l4 = lr[k] - r * (o.t_x / alpha).ln_1p() - x * (alpha + o.t_x).ln() + a.ln() - (b + x - 1.0).ln();
            log_sum(l3, l4)
        } else {
            (l3, 0.0)
        };
        let w3 = 1.0 - w4;
        ll += o.n * (a2 + lse);
        // d/dθ = parameter · d/dparameter.
        let d_r = dr[k] - w3 * (o.t / alpha).ln_1p() - w4 * (o.t_x / alpha).ln_1p();
        let d_alpha = w3 * (r * o.t - x * alpha) / (alpha + o.t) + w4 * (r * o.t_x - x * alpha) / (alpha + o.t_x);
        let d_a = -dab[k] + w4 / a;
        let d_b = db[k] - dab[k] - if o.x > 0 { w4 / (b + x - 1.0) } else { 0.0 };
        g[0] += o.n * r * d_r;
        g[1] += o.n * d_alpha;
        g[2] += o.n * a * d_a;
        g[3] += o.n * b * d_b;
    }
    (ll, g)
}

/// The NBD log-likelihood (no dropout) at (r, α) and its gradient in log-parameters.
pub fn nbd_ll(p: [f64; 2], obs: &[Obs]) -> (f64, [f64; 2]) {
    let [r, alpha] = p;
    let (lr, dr) = pochhammer(r, max_x(obs));
    let (mut ll, mut g) = (0.0, [0.0; 2]);
    for o in obs {
        let (x, k) = (o.x as f64, o.x as usize);
        ll += o.n * (lr[k] - r * (o.t / alpha).ln_1p() - x * (alpha + o.t).ln());
        g[0] += o.n * r * (dr[k] - (o.t / alpha).ln_1p());
        g[1] += o.n * (r * o.t - x * alpha) / (alpha + o.t);
    }
    (ll, g)
}

/// The Poisson log-likelihood at `rate` (Σ x ln λ − λ T).
pub fn poisson_ll(rate: f64, obs: &[Obs]) -> f64 {
    obs.iter().map(|o| o.n * (if o.x > 0 { o.x as f64 * rate.ln() } else { 0.0 } - rate * o.t)).sum()
}

/// The mean negative log-likelihood of one of the models, in log-parameters, for the solver.
struct Problem<'a> {
    obs: &'a [Obs],
    weight: f64,
    dropout: bool,
}

impl Problem<'_> {
    fn eval(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        let p = unlog(theta);
        let (ll, g) = if self.dropout {
            let (ll, g) = bgnbd_ll([p[0], p[1], p[2], p[3]], self.obs);
            (ll, g.to_vec())
        } else {
            let (ll, g) = nbd_ll([p[0], p[1]], self.obs);
            (ll, g.to_vec())
        };
        // Outside the clamp the cost is flat: its gradient is 0 there.
        let g = g.iter().zip(theta).map(|(g, t)| if t.abs() > LOG_BOUND { 0.0 } else { -g / self.weight }).collect();
        let cost = -ll / self.weight;
        (if cost.is_finite() { cost } else { f64::MAX }, g)
    }
}

impl CostFunction for Problem<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, theta: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        Ok(self.eval(theta).0)
    }
}

impl Gradient for Problem<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, theta: &Vec<f64>) -> Result<Vec<f64>, argmin::core::Error> {
        Ok(self.eval(theta).1)
    }
}

/// A local optimum from `start` (log-parameters): (θ, mean log-likelihood, converged), or None
/// when the solver failed.
fn solve(problem: Problem<'_>, start: Vec<f64>) -> Option<(Vec<f64>, f64, bool)> {
    let line = MoreThuenteLineSearch::new();
    let solver = LBFGS::new(line, 10).with_tolerance_grad(GRAD_TOL).ok()?.with_tolerance_cost(0.0).ok()?;
    let res = Executor::new(problem, solver).configure(|s| s.param(start).max_iters(MAX_ITERS)).run().ok()?;
    let st = res.state();
    let theta = st.get_best_param()?.clone();
    let converged = st.get_iter() < MAX_ITERS;
    Some((theta, -st.get_best_cost(), converged))
}

/// The solver stops when the gradient of the mean log-likelihood (in log-parameters) is this small.
const GRAD_TOL: f64 = 1e-10;
/// Iterations of one solver run.
const MAX_ITERS: u64 = 500;

/// Whether `theta` (log-parameters) is an interior maximum: every parameter within
/// [e^−[`INTERIOR`], e^[`INTERIOR`]] and the mean log-likelihood's Hessian there (central differences
/// of the analytic gradient) negative definite with no direction flatter than [`FLAT`] times the
/// steepest. A solver that runs towards a limit stops where the likelihood no longer changes: a
/// flat direction, which this refuses.
fn interior(obs: &[Obs], dropout: bool, theta: &[f64]) -> bool {
    if theta.iter().any(|t| t.abs() > INTERIOR) {
        return false;
    }
    let problem = Problem { obs, weight: weight(obs), dropout };
    let k = theta.len();
    let h = 1e-4;
    let mut hess = vec![vec![0.0; k]; k];
    for j in 0..k {
        let (mut up, mut down) = (theta.to_vec(), theta.to_vec());
        up[j] += h;
        down[j] -= h;
        let (gu, gd) = (problem.eval(&up).1, problem.eval(&down).1);
        for i in 0..k {
            hess[i][j] = (gu[i] - gd[i]) / (2.0 * h);
        }
    }
    // Cholesky of the (symmetrised) Hessian of the negative mean log-likelihood.
    let scale = (0..k).map(|i| hess[i][i].abs()).fold(0.0, f64::max);
    let mut l = vec![vec![0.0; k]; k];
    for i in 0..k {
        for j in 0..=i {
            let v = (hess[i][j] + hess[j][i]) / 2.0 - (0..j).map(|m| l[i][m] * l[j][m]).sum::<f64>();
            if i == j {
                // Not greater (NaN included): flat or curving up.
                if v.is_nan() || v <= FLAT * scale {
                    return false;
                }
                l[i][i] = v.sqrt();
            } else {
                l[i][j] = v / l[j][j];
            }
        }
    }
    true
}

/// |ln θ| of an interior maximum's parameters at most (θ within about 1e-6..1e6).
const INTERIOR: f64 = 13.8;
/// The flattest direction an interior maximum may have, relative to the steepest.
const FLAT: f64 = 1e-7;

/// The best of several local optima; (θ, mean log-likelihood, converged).
fn best_of(obs: &[Obs], dropout: bool, starts: Vec<Vec<f64>>) -> Option<(Vec<f64>, f64, bool)> {
    let weight = weight(obs);
    starts.into_iter().filter_map(|s| solve(Problem { obs, weight, dropout }, s)).max_by(|p, q| p.1.total_cmp(&q.1))
}

/// Fits the BG/NBD model to the buyers' summaries by maximum likelihood, falling back to its
/// limits where the data show no dropout (see the module doc).
pub fn fit(obs: &[Obs]) -> Fit {
    let (w, sx, st) = (weight(obs), obs.iter().map(|o| o.n * o.x as f64).sum::<f64>(), obs.iter().map(|o| o.n * o.t).sum::<f64>());
    if w == 0.0 || st == 0.0 {
        return Fit { model: Model::None, log_likelihood: 0.0, bgnbd_log_likelihood: 0.0, nbd_log_likelihood: 0.0 };
    }
    let rate = sx / st;
    let poisson = poisson_ll(rate, obs);
    let poisson_fit = |nbd: f64, bg: f64| Fit {
        model: Model::Poisson { rate },
        log_likelihood: poisson,
        bgnbd_log_likelihood: bg,
        nbd_log_likelihood: nbd,
    };
    if sx == 0.0 {
        // No repeat purchase: every likelihood is at most 0, which λ = 0 attains.
        return poisson_fit(0.0, 0.0);
    }
    // NBD starts: r = 1 with the mean rate, and the same spread out.
    let nbd_starts = vec![vec![0.0, (1.0 / rate).ln()], vec![0.0, 0.0], vec![(0.1f64).ln(), (0.1 / rate).ln()]];
    let Some((nbd_theta, nbd_mean, _)) = best_of(obs, false, nbd_starts) else {
        return poisson_fit(poisson, poisson);
    };
    let nbd = nbd_mean * w;
    let tol = 1e-9 * nbd.abs().max(1.0);
    let [r0, a0] = [nbd_theta[0], nbd_theta[1]];
    let nbd_model = if !interior(obs, false, &nbd_theta) || nbd <= poisson + tol {
        None
    } else {
        let p = unlog(&nbd_theta);
        Some(Model::Nbd { r: p[0], alpha: p[1] })
    };
    let bg_starts = vec![
        vec![r0, a0, 0.0, 0.0],
        vec![r0, a0, (0.5f64).ln(), (3.0f64).ln()],
        vec![0.1, 0.1, 0.1, 0.1],
        vec![0.0, (1.0 / rate).ln(), (2.0f64).ln(), (0.5f64).ln()],
    ];
    let bg = best_of(obs, true, bg_starts);
    let bg_ll = bg.as_ref().map(|b| b.1 * w).unwrap_or(f64::NEG_INFINITY);
    let limit_ll = if nbd_model.is_some() { nbd } else { poisson };
    if let Some((theta, _, converged)) = &bg {
        let p = unlog(theta);
        if *converged && bg_ll > limit_ll + tol && interior(obs, true, theta) {
            return Fit {
                model: Model::BgNbd { r: p[0], alpha: p[1], a: p[2], b: p[3] },
                log_likelihood: bg_ll,
                bgnbd_log_likelihood: bg_ll,
                nbd_log_likelihood: nbd,
            };
        }
    }
    match nbd_model {
        Some(m) => Fit { model: m, log_likelihood: nbd, bgnbd_log_likelihood: bg_ll, nbd_log_likelihood: nbd },
        None => poisson_fit(nbd, bg_ll),
    }
}

impl Model {
    /// P(alive | x, t_x, T); `None` for [`Model::None`].
    pub fn p_alive(&self, x: u32, t_x: f64, t: f64) -> Option<f64> {
        match *self {
            Model::BgNbd { r, alpha, a, b } => {
                if x == 0 {
                    return Some(1.0);
                }
                let xf = x as f64;
                let l = a.ln() - (b + xf - 1.0).ln() + (r + xf) * ((alpha + t) / (alpha + t_x)).ln();
                Some(1.0 / (1.0 + l.exp()))
            }
            Model::Nbd { .. } | Model::Poisson { .. } => Some(1.0),
            Model::None => None,
        }
    }

    /// E[Y(h) | x, t_x, T]: the expected purchases in the next `h`; `None` for [`Model::None`].
    pub fn expected(&self, h: f64, x: u32, t_x: f64, t: f64) -> Option<f64> {
        match *self {
            Model::BgNbd { r, alpha, a, b } => {
                let alive = self.p_alive(x, t_x, t)?;
                Some(alive * alive_expectation(r + x as f64, h / (alpha + t + h), a, b + x as f64))
            }
            Model::Nbd { r, alpha } => Some((r + x as f64) * h / (alpha + t)),
            Model::Poisson { rate } => Some(rate * h),
            Model::None => None,
        }
    }
}

/// E[Σ_{j=1..N} (1−p)^(j−1)] for N ~ NegBin(k, z) (P(N=n) = Γ(k+n)/(Γ(k) n!) (1−z)^k z^n) and
/// p ~ Beta(a, b): Σ_n P(N=n) M_n with M_n = Σ_{j≤n} m_j, m_1 = 1, m_{j+1} = m_j (b+j−1)/(a+b+j−1).
pub fn alive_expectation(k: f64, z: f64, a: f64, b: f64) -> f64 {
    if z <= 0.0 {
        return 0.0;
    }
    let (lz, mut lp) = (z.ln(), k * (-z).ln_1p());
    let (mut sum, mut m, mut big_m) = (0.0f64, 1.0f64, 0.0f64);
    let mut n = 0u64;
    loop {
        n += 1;
        let nf = n as f64;
        // P(N=n) from P(N=n−1), in logs (P(N=0) = (1−z)^k can underflow).
        lp += ((k + nf - 1.0) / nf).ln() + lz;
        if n > 1 {
            m *= (b + nf - 2.0) / (a + b + nf - 2.0);
        }
        big_m += m;
        let term = lp.exp() * big_m;
        sum += term;
        // Past the mode the terms fall at least geometrically with ratio ρ; bound the tail.
        let rho = (k + nf) / (nf + 1.0) * z;
        if rho < 1.0 {
            let tail = lp.exp() * rho / (1.0 - rho) * (big_m + 1.0 / (1.0 - rho));
            if tail <= 1e-16 * sum || n > 50_000_000 {
                return sum;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_series_has_no_singularity_at_a_one() {
        // The closed form divides by a − 1; the series is continuous there.
        let e = |a: f64| Model::BgNbd { r: 0.5, alpha: 3.0, a, b: 2.0 }.expected(30.0, 3, 5.0, 8.0).unwrap();
        assert!(e(1.0).is_finite() && e(1.0) > 0.0);
        assert!((e(1.0) - e(1.0 + 1e-7)).abs() < 1e-6 && (e(1.0) - e(1.0 - 1e-7)).abs() < 1e-6);
    }

    #[test]
    fn the_gradient_is_the_likelihoods() {
        let obs = [Obs { x: 0, t_x: 0.0, t: 5.0, n: 3.0 }, Obs { x: 2, t_x: 4.0, t: 8.0, n: 2.0 }, Obs { x: 5, t_x: 6.0, t: 6.0, n: 1.0 }];
        let p = [0.7, 2.5, 0.8, 1.9];
        let (_, g) = bgnbd_ll(p, &obs);
        for i in 0..4 {
            let h = 1e-6f64;
            let (mut up, mut down) = (p, p);
            up[i] *= h.exp();
            down[i] *= (-h).exp();
            let numeric = (bgnbd_ll(up, &obs).0 - bgnbd_ll(down, &obs).0) / (2.0 * h);
            assert!((numeric - g[i]).abs() < 1e-6, "parameter {i}: {numeric} vs {}", g[i]);
        }
        let (_, g) = nbd_ll([0.7, 2.5], &obs);
        for i in 0..2 {
            let h = 1e-6f64;
            let (mut up, mut down) = ([0.7, 2.5], [0.7, 2.5]);
            up[i] *= h.exp();
            down[i] *= (-h).exp();
            let numeric = (nbd_ll(up, &obs).0 - nbd_ll(down, &obs).0) / (2.0 * h);
            assert!((numeric - g[i]).abs() < 1e-6, "NBD parameter {i}: {numeric} vs {}", g[i]);
        }
    }

    #[test]
    fn a_limit_that_beats_the_others_is_still_no_fit() {
        // Two buyers with one repeat purchase each, the second on the last day: the BG/NBD
        // likelihood is largest as b → 0 (both dropped right after their last purchase), where it
        // tends to 2·ln 1 − 1·2 = −2 with a Poisson rate of Σx/Σt_x = 1. That is a limit, not a fit:
        // dropout stays unidentified, and the NBD runs off too, so the Poisson rate 2/3 is reported.
        let obs = [Obs { x: 1, t_x: 1.0, t: 2.0, n: 1.0 }, Obs { x: 1, t_x: 1.0, t: 1.0, n: 1.0 }];
        let f = fit(&obs);
        assert_eq!(f.model, Model::Poisson { rate: 2.0 / 3.0 });
        assert!((f.bgnbd_log_likelihood - -2.0).abs() < 1e-6 && f.bgnbd_log_likelihood > f.log_likelihood);
    }

    #[test]
    fn no_repeat_purchase_is_a_zero_rate() {
        let obs = [Obs { x: 0, t_x: 0.0, t: 5.0, n: 4.0 }];
        assert_eq!(fit(&obs).model, Model::Poisson { rate: 0.0 });
        assert_eq!(fit(&[Obs { x: 0, t_x: 0.0, t: 0.0, n: 4.0 }]).model, Model::None);
        assert_eq!(fit(&[]).model, Model::None);
    }
}
