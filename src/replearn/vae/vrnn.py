r"""The variational RNN (VRNN): a latent variable at every step of a recurrent model.

Paper: J. Chung, K. Kastner, L. Dinh, K. Goel, A. Courville & Y. Bengio, "A recurrent latent
variable model for sequential data", NeurIPS 2015, arXiv:1506.02216 (Eqs. 5-11). Not to be
confused with SVG or SVAE (other sequence models with latents; see ``docs/corrections.md``).

With a recurrent state :math:`h_{t-1}` summarizing :math:`x_{<t}, z_{<t}` and feature maps
:math:`\varphi^x, \varphi^z`:

.. math::

    z_t \sim \mathcal N(\mu_{0,t}, \operatorname{diag}\sigma^2_{0,t}),\
    [\mu_{0,t}, \sigma_{0,t}] = \varphi^{prior}(h_{t-1})        \qquad (5)\ \text{prior}

    x_t|z_t \sim \mathcal N(\mu_{x,t}, \operatorname{diag}\sigma^2_{x,t}),\
    [\mu_{x,t}, \sigma_{x,t}] = \varphi^{dec}(\varphi^z(z_t), h_{t-1})  \qquad (6)\ \text{decoder}

    h_t = f(\varphi^x(x_t), \varphi^z(z_t), h_{t-1})            \qquad (7)\ \text{recurrence}

    z_t|x_t \sim \mathcal N(\mu_{z,t}, \operatorname{diag}\sigma^2_{z,t}),\
    [\mu_{z,t}, \sigma_{z,t}] = \varphi^{enc}(\varphi^x(x_t), h_{t-1}) \qquad (9)\ \text{encoder}

    \mathcal L(x) = \sum_t \mathbb E_q\!\left[\log p(x_t|z_{\le t}, x_{<t})
        - \mathrm{KL}(q(z_t|x_{\le t}, z_{<t})\,\|\,p(z_t|x_{<t}, z_{<t}))\right]
                                                                 \qquad (11)\ \text{ELBO}

The KL of Eq. (11) is between two diagonal Gaussians (:func:`gaussian_kl_diag`), in closed
form per step; the IWAE bound and the importance-sampled :math:`\log p(x)` use whole
sampled trajectories (:math:`\log w = \sum_t \log p(x_t|\cdot) + \log p(z_t|\cdot) - \log
q(z_t|\cdot)`). :class:`GaussianRNN` is the plain RNN language model the paper compares
with: :math:`p(x_t|x_{<t}) = \mathcal N(\varphi^{out}(h_{t-1}))`, an exact log-likelihood.
Both use :class:`replearn.sequence.rnn.GRUCell` for :math:`f`. Deviations: a GRU instead
of the paper's LSTM; one-hidden-layer ReLU MLPs for every :math:`\varphi`; log-variances
instead of softplus standard deviations; a single Gaussian output for both models (the paper
also reports a GMM-output RNN).

Tests: :func:`gaussian_kl_diag` against ``torch.distributions``; the ELBO below the IWAE
bound below the estimator on a trained batch; causality (the bound of step t does not
depend on later inputs); the RNN's log-likelihood against a step-by-step recomputation.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from replearn.registry import Example, register
from replearn.sequence.rnn.cells import GRUCell
from replearn.vae.iwae import importance_log_likelihood, iwae_bound
from replearn.vae.model import ElboTerms
from replearn.vae.objectives import gaussian_log_likelihood, log_normal_diag, reparameterize

__all__ = ["VRNN", "GaussianRNN", "gaussian_kl_diag"]


def gaussian_kl_diag(mu_q: Tensor, lv_q: Tensor, mu_p: Tensor, lv_p: Tensor) -> Tensor:
    r""":math:`\mathrm{KL}(\mathcal N(\mu_q, e^{lv_q})\|\mathcal N(\mu_p, e^{lv_p})) =
    \tfrac12\sum_j (lv_p - lv_q + (e^{lv_q} + (\mu_q - \mu_p)^2)e^{-lv_p} - 1)`.

    Shape:
        all (*, D) -> (*).
    """
    return 0.5 * (lv_p - lv_q + (torch.exp(lv_q) + (mu_q - mu_p) ** 2) * torch.exp(-lv_p) - 1).sum(
        -1
    )


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))


def _check_sequence(x: Tensor, x_dim: int) -> None:
    if x.dim() != 3 or x.shape[-1] != x_dim:
        raise ValueError(f"expected x of shape (B, T, {x_dim}), got {tuple(x.shape)}")


@register(
    "vae.vrnn",
    paper="Chung et al. 2015, arXiv:1506.02216",
    reference="torch.distributions KL; ELBO <= IWAE <= estimator; causality by perturbation",
    example=lambda: Example(VRNN(2, 3, h_dim=8, hidden=8), (torch.randn(4, 5, 2),), (4,)),
)
class VRNN(nn.Module):
    """Variational RNN (Eqs. 5-11) with a GRU state.

    Args:
        x_dim: features per step.
        z_dim: latent dimension per step.
        h_dim: GRU state size.
        hidden: width of the feature maps and of every MLP.

    Shape:
        x: (B, T, x_dim) -> forward: per-sequence ELBO (B,), summed over steps.
    """

    def __init__(self, x_dim: int, z_dim: int, *, h_dim: int = 64, hidden: int = 64) -> None:
        super().__init__()
        for name, v in (("x_dim", x_dim), ("z_dim", z_dim), ("h_dim", h_dim), ("hidden", hidden)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        self.x_dim, self.z_dim, self.h_dim, self.hidden = x_dim, z_dim, h_dim, hidden
        self.phi_x = nn.Sequential(nn.Linear(x_dim, hidden), nn.ReLU())
        self.phi_z = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU())
        self.prior = _mlp(h_dim, hidden, 2 * z_dim)  # Eq. (5)
        self.dec = _mlp(hidden + h_dim, hidden, 2 * x_dim)  # Eq. (6)
        self.enc = _mlp(hidden + h_dim, hidden, 2 * z_dim)  # Eq. (9)
        self.cell = GRUCell(2 * hidden, h_dim)  # Eq. (7)

    def _run(self, x: Tensor, *, analytic: bool) -> tuple[Tensor, Tensor]:
        """Per-sequence (sum over t) of log p(x_t|.) and of the KL (analytic) or of
        log q(z_t|.) - log p(z_t|.) (one sample); x (N, T, x_dim) -> (N,), (N,)."""
        n, steps, _ = x.shape
        h = x.new_zeros(n, self.h_dim)
        log_px = x.new_zeros(n)
        kl = x.new_zeros(n)
        for t in range(steps):
            fx = self.phi_x(x[:, t])  # (N, hidden)
            mu_p, lv_p = self.prior(h).chunk(2, -1)  # Eq. (5)
            mu_q, lv_q = self.enc(torch.cat([fx, h], -1)).chunk(2, -1)  # Eq. (9)
            z = reparameterize(mu_q, lv_q)  # (N, z_dim)
            fz = self.phi_z(z)
            mu_x, lv_x = self.dec(torch.cat([fz, h], -1)).chunk(2, -1)  # Eq. (6)
            log_px = log_px + gaussian_log_likelihood(x[:, t], mu_x, lv_x)
            if analytic:
                kl = kl + gaussian_kl_diag(mu_q, lv_q, mu_p, lv_p)
            else:
                kl = kl + log_normal_diag(z, mu_q, lv_q) - log_normal_diag(z, mu_p, lv_p)
            h = self.cell(torch.cat([fx, fz], -1), h)  # Eq. (7)
        return log_px, kl

    def elbo(self, x: Tensor) -> ElboTerms:
        """Eq. (11) with the per-step analytic KL and one sampled trajectory; each (B,)."""
        _check_sequence(x, self.x_dim)
        log_px, kl = self._run(x, analytic=True)
        return ElboTerms(log_px - kl, log_px, kl)

    def log_weights(self, x: Tensor, k: int) -> Tensor:
        """Log importance weights of k sampled trajectories per sequence, (k, B)."""
        _check_sequence(x, self.x_dim)
        b = x.shape[0]
        xr = x.unsqueeze(0).expand(k, *x.shape).reshape(k * b, *x.shape[1:])
        log_px, log_q_over_p = self._run(xr, analytic=False)
        return (log_px - log_q_over_p).reshape(k, b)

    def iwae(self, x: Tensor, k: int) -> Tensor:
        """The k-sample IWAE bound per sequence, (B,)."""
        return iwae_bound(self.log_weights(x, k))

    @torch.no_grad()
    def log_likelihood(self, x: Tensor, k: int = 100, *, chunk: int = 50) -> Tensor:
        """Importance-sampled log p(x) per sequence with k trajectories, (B,)."""
        return importance_log_likelihood(lambda n: self.log_weights(x, n), k, chunk=chunk)

    def forward(self, x: Tensor) -> Tensor:
        return self.elbo(x).elbo

    def extra_repr(self) -> str:
        return f"x_dim={self.x_dim}, z_dim={self.z_dim}, h_dim={self.h_dim}, hidden={self.hidden}"


@register(
    "vae.gaussian_rnn",
    paper="Chung et al. 2015, arXiv:1506.02216 (the RNN baseline); Graves 2013, arXiv:1308.0850",
    reference="step-by-step recomputation of the chain rule log p(x) = sum_t log p(x_t|x_<t)",
    example=lambda: Example(GaussianRNN(2, h_dim=8, hidden=8), (torch.randn(4, 5, 2),), (4,)),
)
class GaussianRNN(nn.Module):
    """An RNN language model with a Gaussian output per step: exact log p(x) per sequence.

    Args:
        x_dim: features per step.
        h_dim: GRU state size.
        hidden: width of the input feature map and of the output MLP.

    Shape:
        x: (B, T, x_dim) -> forward: log p(x) per sequence (B,).
    """

    def __init__(self, x_dim: int, *, h_dim: int = 64, hidden: int = 64) -> None:
        super().__init__()
        for name, v in (("x_dim", x_dim), ("h_dim", h_dim), ("hidden", hidden)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        self.x_dim, self.h_dim, self.hidden = x_dim, h_dim, hidden
        self.phi_x = nn.Sequential(nn.Linear(x_dim, hidden), nn.ReLU())
        self.out = _mlp(h_dim, hidden, 2 * x_dim)
        self.cell = GRUCell(hidden, h_dim)

    def step_log_likelihoods(self, x: Tensor) -> Tensor:
        """:math:`\\log p(x_t | x_{<t})` for every step, (B, T)."""
        _check_sequence(x, self.x_dim)
        h = x.new_zeros(x.shape[0], self.h_dim)
        out = []
        for t in range(x.shape[1]):
            mu, lv = self.out(h).chunk(2, -1)
            out.append(gaussian_log_likelihood(x[:, t], mu, lv))
            h = self.cell(self.phi_x(x[:, t]), h)
        return torch.stack(out, 1)

    def log_likelihood(self, x: Tensor) -> Tensor:
        """:math:`\\log p(x) = \\sum_t \\log p(x_t|x_{<t})`, (B,)."""
        return self.step_log_likelihoods(x).sum(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.log_likelihood(x)

    def extra_repr(self) -> str:
        return f"x_dim={self.x_dim}, h_dim={self.h_dim}, hidden={self.hidden}"
