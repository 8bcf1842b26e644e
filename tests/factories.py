"""Small models and sources built in code, shared by the tests."""

import torch

from featureviz.sources import FeatureSource


def make_sae(d_in=32, d_sae=96, hook_name="blocks.1.hook_resid_pre", seed=0):
    from sae_lens import StandardSAE, StandardSAEConfig
    from sae_lens.saes.sae import SAEMetadata

    torch.manual_seed(seed)
    sae = StandardSAE(StandardSAEConfig(d_in=d_in, d_sae=d_sae, metadata=SAEMetadata(hook_name=hook_name)))
    with torch.no_grad():
        sae.W_enc.normal_(0, 0.5)
        sae.W_dec.normal_(0, 0.2)
        sae.b_enc.fill_(-0.1)
    return sae


class PlantedSource(FeatureSource):
    """Feature 0 is on at every token (always-on), feature 1 never fires, feature 2 fires on some tokens."""

    kind = "sae"
    hook_name = "blocks.0.hook_resid_pre"
    n_features = 3

    def encode(self, hook_acts):
        out = torch.zeros(*hook_acts.shape[:-1], 3)
        out[..., 0] = 1.0
        out[..., 2] = hook_acts[..., 0].relu()
        return out

    def decoder_directions(self):
        return torch.eye(3, 32)
