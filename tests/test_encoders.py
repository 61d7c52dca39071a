import pytest
import torch

from labsnn.dynamics.encoders import (
    ENCODERS,
    bernoulli_encode,
    bernoulli_events,
    get_encoder,
    repeat_encode,
    spike_limits,
    threshold_encode,
)


def test_repeat_is_the_image_at_every_step():
    images = torch.rand(3, 784)
    out = repeat_encode(images, 7)
    assert out.shape == (7, 3, 784)
    for t in range(7):
        assert torch.equal(out[t], images)


def test_threshold_keeps_pixels_above_threshold_else_zero():
    images = torch.tensor([[0.1, 0.5, 0.51, 0.9, 0.0]])
    out = threshold_encode(images, 4, threshold=0.5)
    assert out.shape == (4, 1, 5)
    expected = torch.tensor([[0.0, 0.0, 0.51, 0.9, 0.0]])
    for t in range(4):
        assert torch.equal(out[t], expected)


def test_bernoulli_rate_matches_intensity_within_four_standard_errors():
    intensities = torch.tensor([[0.0, 0.05, 0.2, 0.5, 0.8, 0.97, 1.0]])
    T = 20000
    spikes = bernoulli_encode(intensities, T, torch.Generator().manual_seed(0))
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    rate = spikes.mean(dim=0)[0]
    p = intensities[0]
    stderr = (p * (1 - p) / T).sqrt()
    assert torch.all((rate - p).abs() <= 4 * stderr + 1e-12), (rate, p)
    assert rate[0] == 0 and rate[-1] == 1


def test_bernoulli_is_reproducible_from_the_generator_seed():
    images = torch.rand(4, 784)
    a = bernoulli_encode(images, 10, torch.Generator().manual_seed(5))
    b = bernoulli_encode(images, 10, torch.Generator().manual_seed(5))
    c = bernoulli_encode(images, 10, torch.Generator().manual_seed(6))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_lookup_by_name_and_unknown_name_lists_choices():
    images = torch.rand(2, 784)
    for name in ENCODERS:
        out = get_encoder(name)(images, 3, generator=torch.Generator().manual_seed(0), threshold=0.5)
        assert out.shape == (3, 2, 784)
    with pytest.raises(ValueError, match="bernoulli, repeat, threshold"):
        get_encoder("poisson")


@pytest.mark.parametrize("T", [0, -1, 2.5])
def test_bad_number_of_steps(T):
    with pytest.raises(ValueError, match="T must be"):
        repeat_encode(torch.rand(1, 784), T)


def test_bernoulli_resolves_probabilities_to_one_in_65536_and_draws_nothing_for_black_pixels():
    def encode(images):
        return bernoulli_encode(torch.tensor([images]), 2000, torch.Generator().manual_seed(3))

    base = encode([0.3, 0.0, 0.7, 1.0])
    # the same 16-bit level (round(65536 * p)) is the same spike train
    assert torch.equal(encode([0.3 + 2**-18, 0.0, 0.7, 1.0]), base)
    # below half a level a pixel is black: it never spikes and takes no draw from the others
    assert torch.equal(encode([0.3, 2**-18, 0.7, 1.0]), base)
    assert base[:, 0, 3].eq(1).all() and base[:, 0, 1].eq(0).all()


def test_events_written_into_a_buffer_are_the_encoders_spikes_whatever_it_held():
    images = torch.rand(3, 784) * (torch.rand(3, 784) < 0.3)
    fresh = bernoulli_encode(images, 6, torch.Generator().manual_seed(1))
    events = bernoulli_events(images, 6, torch.Generator().manual_seed(1))
    out = torch.full((6, 3, 784), 7.0)
    written = events.dense(out)
    assert written.data_ptr() == out.data_ptr()
    assert torch.equal(written, fresh)
    for bad in (
        torch.empty(6, 3, 783),
        torch.empty(6, 3, 784, dtype=torch.float64),
        torch.empty(3, 6, 784).transpose(0, 1),
    ):
        with pytest.raises(ValueError, match="out must be"):
            events.dense(bad)


@pytest.mark.parametrize("q", [1, 2, 255 * 257 // 2, 32768, 65535, 65536])
def test_spike_limit_admits_exactly_q_of_the_65536_draws(q):
    every_draw = torch.arange(-32768, 32768, dtype=torch.int32).to(torch.int16)
    limit = spike_limits(torch.tensor([float(q)]))
    assert int(torch.le(every_draw, limit).sum()) == q


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_bernoulli_in_other_float_types(dtype):
    images = torch.tensor([[0.0, 0.5, 1.0]], dtype=dtype)
    spikes = bernoulli_encode(images, 4000, torch.Generator().manual_seed(0))
    assert spikes.dtype == dtype
    rate = spikes.float().mean(dim=0)[0]
    assert rate[0] == 0 and rate[2] == 1
    assert abs(float(rate[1]) - 0.5) < 4 * (0.25 / 4000) ** 0.5


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_bernoulli_rejects_intensities_outside_0_1(bad):
    with pytest.raises(ValueError, match=r"intensities in \[0, 1\]"):
        bernoulli_encode(torch.tensor([[0.5, bad]]), 3)


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_a_black_pixel_is_no_input_at_any_step(name):
    # labsnn.running.train leaves out the pixels that are black in a whole batch on this ground
    images = torch.rand(3, 784) * (torch.rand(3, 784) < 0.5)
    encode = get_encoder(name)
    out = encode(images, 5, generator=torch.Generator().manual_seed(0), threshold=0.5)
    assert out[:, images == 0].eq(0).all()
    # and leaving out the columns black in every image changes nothing else, draws included
    columns = images.ne(0).any(dim=0).nonzero().squeeze(1)
    compact = encode(images[:, columns], 5, generator=torch.Generator().manual_seed(0), threshold=0.5)
    assert torch.equal(compact, out[:, :, columns])
