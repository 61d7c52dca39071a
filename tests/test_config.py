import math

import pytest

from labsnn.running.config import RunConfig


def test_defaults_are_the_labs():
    c = RunConfig()
    assert (c.z, c.beta, c.v_th, c.T, c.encoder, c.loss, c.sizes, c.batch_size, c.epochs) == (
        2.0,
        0.1,
        1.0,
        25,
        "bernoulli",
        "mse_rate",
        (784, 10, 10),
        128,
        5,
    )


@pytest.mark.parametrize(
    "field, value",
    [
        ("T", 0),
        ("T", 2.5),
        ("epochs", 0),
        ("batch_size", 0),
        ("v_th", 0.0),
        ("v_th", -1.0),
        ("z", 0.0),
        ("z", math.nan),
        ("beta", -0.1),
        ("beta", math.inf),
        ("lr", 0.0),
        ("seed", -1),
        ("encoder", "poisson"),
        ("loss", "hinge"),
        ("device", "tpu"),
        ("n_train", 0),
        ("sizes", (784,)),
        ("threshold", -0.5),
    ],
)
def test_invalid_field_names_field_and_value(field, value):
    with pytest.raises(ValueError, match=rf"^{field} must be .*{value!r}"):
        RunConfig(**{field: value})


def test_hash_is_stable_and_keyed_by_fields_not_device():
    a = RunConfig(z=2, T=25)
    assert a.config_hash == RunConfig().config_hash
    assert a.config_hash == RunConfig(device="cpu").config_hash
    assert RunConfig(beta=0.2).config_hash != a.config_hash
    assert RunConfig.from_dict(a.to_dict()) == a


def test_replace_validates_and_rejects_unknown_fields():
    with pytest.raises(ValueError, match="unknown config field"):
        RunConfig().replace(gamma=1)
    with pytest.raises(ValueError, match="^T must be"):
        RunConfig().replace(T=0)


def test_stack_key_ignores_only_neuron_parameters_and_loss():
    base = RunConfig()
    assert base.replace(beta=2.0, z=5.0, v_th=0.5, loss="cross_entropy_rate").stack_key() == base.stack_key()
    assert base.replace(T=5).stack_key() != base.stack_key()
    assert base.replace(seed=1).stack_key() != base.stack_key()


def test_cache_keys_are_pinned_so_a_new_field_cannot_rekey_every_cache():
    assert RunConfig().config_hash == "de9f6b22818ff215"
    source_like = RunConfig(optimizer="sgd", lr=1.0, spike_timing="next_step")
    assert source_like.config_hash == "d6aa2416d98c9268"
    assert RunConfig(backend="torch", device="cpu").config_hash == RunConfig().config_hash


def test_a_threshold_only_matters_to_the_threshold_encoder():
    assert RunConfig(threshold=2.0).threshold == 2.0  # unused by the Bernoulli encoder: old results stay readable
    with pytest.raises(ValueError, match="threshold must be below 1"):
        RunConfig(encoder="threshold", threshold=2.0)
    with pytest.raises(ValueError, match="CPU only"):
        RunConfig(backend="compiled", device="cuda")
