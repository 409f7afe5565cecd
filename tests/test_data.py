"""Datasets match their written definitions; user input and IDX files fail with clear messages."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import math
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_lab.config import ConfigError, RunConfig
from gan_lab.data import make_dataset, mnist, points_dataset, toy2d
from gan_lab.data import names as dataset_names

ROOT = Path(__file__).resolve().parents[1]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def assign(x: np.ndarray, modes: np.ndarray) -> np.ndarray:
    return ((x[:, None, :] - modes[None]) ** 2).sum(-1).argmin(1)


# --- ring8 / grid25 ---------------------------------------------------------------------------

def test_ring8_modes_are_exact():
    m = toy2d.modes("ring8")
    assert m.shape == (8, 2)
    np.testing.assert_allclose(np.hypot(m[:, 0], m[:, 1]), 1.0, atol=1e-12)
    angles = np.mod(np.arctan2(m[:, 1], m[:, 0]), 2 * np.pi)
    np.testing.assert_allclose(np.sort(angles), 2 * np.pi * np.arange(8) / 8, atol=1e-12)
    assert toy2d.mode_std("ring8") == 0.01


def test_grid25_modes_are_the_lattice():
    m = toy2d.modes("grid25")
    lattice = {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
    assert {(float(a), float(b)) for a, b in m} == lattice and len(m) == 25
    assert toy2d.mode_std("grid25") == 0.05


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_mixture_samples_match_definition(name):
    ds = make_dataset(RunConfig(dataset=name))
    n = 200_000
    x = ds.sample(n, gen(1), "cpu").double().numpy()
    modes, std = ds.modes, ds.std
    assert ds.std == toy2d.mode_std(name)
    k = assign(x, modes)
    counts = np.bincount(k, minlength=len(modes))
    # Equal weights: each count is Binomial(n, 1/K); 6 sigma keeps this from ever flaking.
    p = 1 / len(modes)
    assert np.abs(counts - n * p).max() < 6 * math.sqrt(n * p * (1 - p))
    resid = x - modes[k]
    # Nearest-mode assignment would bias these if the modes overlapped; at 1/70+ std apart
    # they do not, so the residuals are the per-mode Gaussian noise.
    assert np.abs(resid.mean(0)).max() < 6 * std / math.sqrt(n)
    np.testing.assert_allclose(resid.std(0), std, rtol=0.01)
    for j in range(len(modes)):
        np.testing.assert_allclose(x[k == j].mean(0), modes[j],
                                   atol=6 * std / math.sqrt(counts[j]))
    assert np.abs(resid).max() < 6 * std


# --- teaching shapes --------------------------------------------------------------------------

def test_teaching_shapes_geometry():
    n = 100_000
    g = gen(2)
    x = toy2d.sample("circles", n, g).double().numpy()
    r = np.hypot(x[:, 0], x[:, 1])
    inner = r < 0.75
    assert abs(inner.mean() - 0.5) < 0.01
    assert abs(np.median(r[inner]) - 0.5) < 0.01 and abs(np.median(r[~inner]) - 1.0) < 0.01

    x = toy2d.sample("line", n, g).double().numpy()
    along, across = (x[:, 0] + x[:, 1]) / math.sqrt(2), (x[:, 1] - x[:, 0]) / math.sqrt(2)
    assert abs(across.std() - 0.02) < 0.001
    assert abs(along.min() + math.sqrt(2)) < 0.1 and abs(along.max() - math.sqrt(2)) < 0.1

    x = toy2d.sample("two_gaussians", n, g).double().numpy()
    left = x[:, 0] < 0
    np.testing.assert_allclose(x[left].mean(0), [-1, 0], atol=0.01)
    np.testing.assert_allclose(x[~left].std(0), [0.2, 0.2], atol=0.005)

    x = toy2d.sample("moons", n, g).double().numpy()
    # Upper moon lies on the unit circle around (-0.5, -0.25), lower on the one around (0.5, 0.25).
    d_up = np.abs(np.hypot(x[:, 0] + 0.5, x[:, 1] + 0.25) - 1)
    d_lo = np.abs(np.hypot(x[:, 0] - 0.5, x[:, 1] - 0.25) - 1)
    assert np.median(np.minimum(d_up, d_lo)) < 0.05
    assert abs((d_up < d_lo).mean() - 0.5) < 0.02

    x = toy2d.sample("spiral", n, g).double().numpy()
    r, theta = np.hypot(x[:, 0], x[:, 1]), np.arctan2(x[:, 1], x[:, 0])
    # On r = theta / (2 pi), the radius modulo one turn equals the angle's fraction of a turn.
    frac = np.mod(theta / (2 * np.pi), 1.0)
    gap = np.abs(np.mod(r - frac + 0.5, 1.0) - 0.5)
    assert np.median(gap[r > 0.3]) < 0.05


@pytest.mark.parametrize("name", toy2d.SHAPES)
def test_shapes_fit_their_bounds_and_dtype(name):
    ds = make_dataset(RunConfig(dataset=name))
    x = ds.sample(20_000, gen(3), "cpu")
    assert x.dtype == torch.float32 and x.shape == (20_000, 2) and ds.shape == (2,)
    assert not ds.is_image
    xmin, xmax, ymin, ymax = ds.bounds
    inside = ((x[:, 0] > xmin) & (x[:, 0] < xmax) & (x[:, 1] > ymin) & (x[:, 1] < ymax))
    assert inside.all()
    if name in ("ring8", "grid25"):
        assert ds.modes is not None and ds.std is not None
    else:
        assert ds.modes is None and ds.std is None


@pytest.mark.parametrize("name", [d for d in dataset_names() if d != "custom"] + ["custom"])
def test_sampling_is_deterministic(name):
    ds = make_dataset(RunConfig(dataset=name), points=np.random.default_rng(0).normal(size=(50, 2)))
    a, b = ds.sample(64, gen(7)), ds.sample(64, gen(7))
    c = ds.sample(64, gen(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    g = gen(7)
    first = torch.cat([ds.sample(32, g), ds.sample(32, g)])
    assert not torch.equal(first[:32], first[32:])


def test_bad_sample_count():
    ds = make_dataset(RunConfig(dataset="ring8"))
    assert ds.sample(0, gen()).shape == (0, 2)
    with pytest.raises(ValueError, match="n: number of samples"):
        ds.sample(-1, gen())


def test_an_mnist_batch_costs_far_less_than_converting_the_set():
    # Sampling must be one randint + index into a tensor cached on the device (about 50 us);
    # converting the digits per batch, as `whole` does, costs milliseconds. Timed interleaved, so
    # a busy machine slows both alike; one thread, because OpenMP start-up on an oversubscribed
    # machine swamps microsecond timings.
    images, _ = mnist.load_split("train")
    ds = make_dataset(RunConfig(dataset="mnist"))
    g = gen()
    ds.sample(256, g)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        t_sample, t_whole = [], []
        for _ in range(7):
            t_sample.append(_timed(lambda: ds.sample(256, g), reps=10))
            t_whole.append(_timed(lambda: torch.from_numpy(images).float().div_(127.5).sub_(1.0),
                                  reps=1) * 10)
    finally:
        torch.set_num_threads(threads)
    ratio = min(t_sample) / min(t_whole)
    assert ratio < 0.2, f"a batch of 256 costs {ratio:.2f}x converting all 8,000 digits"


def _timed(f, reps=50):
    t = time.perf_counter()
    for _ in range(reps):
        f()
    return time.perf_counter() - t


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_sampling_on_cuda():
    for name in ("grid25", "mnist", "custom"):
        ds = make_dataset(RunConfig(dataset=name), points=[[0, 0], [1, 2]])
        g_cuda = torch.Generator(device="cuda").manual_seed(0)
        x = ds.sample(100, g_cuda, "cuda")
        assert x.is_cuda and torch.equal(x, ds.sample(100, torch.Generator(device="cuda")
                                                      .manual_seed(0), "cuda"))
        assert ds.sample(10, gen(), "cuda").is_cuda   # CPU generator, CUDA batch
        assert ds.sample(10, g_cuda, "cpu").device.type == "cpu"


# --- user points ------------------------------------------------------------------------------

def test_csv_good_file_with_header(tmp_path):
    f = tmp_path / "pts.csv"
    f.write_text("x,y\n0,1\n 2.5 , -3e-1\n\n# a comment\n4;5\n6\t7\n8 9\n")
    pts = toy2d.load_points_csv(f)
    np.testing.assert_array_equal(pts, [[0, 1], [2.5, -0.3], [4, 5], [6, 7], [8, 9]])
    ds = make_dataset(RunConfig(dataset="custom"), points=str(f))
    x = ds.sample(2000, gen())
    assert {tuple(r) for r in x.tolist()} == {tuple(r) for r in pts.astype(np.float32).tolist()}
    xmin, xmax, ymin, ymax = ds.bounds
    assert xmin < 0 < 8 < xmax and ymin < -0.3 and ymax > 9


def test_csv_without_header_and_bom():
    pts = toy2d.parse_points_csv("\ufeff1,2\n3,4\n")
    np.testing.assert_array_equal(pts, [[1, 2], [3, 4]])


def test_csv_bad_row_reports_line_number(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("x,y\n1,2\n\n3,four\n5,6\n")
    with pytest.raises(ValueError, match=r"bad\.csv line 4: expected two numbers x,y, got "
                                         r"'3,four'"):
        toy2d.load_points_csv(f)
    with pytest.raises(ValueError, match="line 2: expected two values x,y, got 3"):
        toy2d.parse_points_csv("1,2\n1,2,3\n")
    with pytest.raises(ValueError, match=r"line 3: '1,nan' is out of range.*finite"):
        toy2d.parse_points_csv("x,y\n0,0\n1,nan\n")
    with pytest.raises(ValueError, match="line 1: .*out of range"):
        toy2d.parse_points_csv("1e9,0\n")
    with pytest.raises(ValueError, match="no points found"):
        toy2d.parse_points_csv("x,y\n\n")


def test_csv_too_many_points():
    text = "x,y\n" + "1,2\n" * toy2d.MAX_POINTS
    assert len(toy2d.parse_points_csv(text)) == toy2d.MAX_POINTS
    with pytest.raises(ValueError, match=r"more than 100,000 points \(line 100002\)"):
        toy2d.parse_points_csv(text + "3,4\n")


def test_points_array_validation():
    assert points_dataset(np.zeros((3, 2))).shape == (2,)
    with pytest.raises(ValueError, match=r"N x 2 array .*shape \(3, 3\)"):
        toy2d.validate_points(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="between 1 and 100,000 points, got 100,001"):
        toy2d.validate_points(np.zeros((100_001, 2)))
    with pytest.raises(ValueError, match=r"row 1 \(inf, 0\) is out of range"):
        toy2d.validate_points([[0, 0], [float("inf"), 0]])
    with pytest.raises(ValueError, match="array of numbers"):
        toy2d.validate_points([["a", "b"]])


def test_custom_without_points_is_a_config_error():
    with pytest.raises(ConfigError) as e:
        make_dataset(RunConfig(dataset="custom"))
    assert e.value.field == "dataset"


# --- bundled MNIST ----------------------------------------------------------------------------

def test_bundled_mnist_asset():
    images, labels = mnist.load_bundled()
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10_000,) and labels.dtype == np.uint8
    assert set(np.unique(labels)) == set(range(10))
    assert 0.12 < images.mean() / 255 < 0.14           # MNIST's mean intensity is 0.1307
    # Ink is bright on a 0 background, and the digits sit in the middle of the field.
    assert images[:, :3].mean() < 1 and images[:, 10:18, 10:18].mean() > 80
    assert not images.flags.writeable
    # The asset is exactly the file its provenance note describes.
    note = (ROOT / "assets" / "MNIST_PROVENANCE.md").read_text()
    recorded = re.search(r"SHA-256 of assets/mnist_10k\.npz:\*\* `([0-9a-f]{64})`", note).group(1)
    assert hashlib.sha256(mnist.ASSET.read_bytes()).hexdigest() == recorded


def test_split_is_fixed_disjoint_and_stratified():
    s = mnist.split()
    assert len(s.train) == 8_000 and len(s.heldout) == 2_000
    assert len(np.intersect1d(s.train, s.heldout)) == 0
    assert np.array_equal(np.union1d(s.train, s.heldout), np.arange(10_000))
    _, labels = mnist.load_bundled()
    frac = np.bincount(labels[s.heldout], minlength=10) / np.bincount(labels, minlength=10)
    assert np.abs(frac - 0.2).max() < 0.01
    assert np.array_equal(s.heldout[:3], [4, 9, 14])   # changing the split must be deliberate


def test_mnist_dataset_draws_only_train_digits_in_range():
    ds = make_dataset(RunConfig(dataset="mnist"))
    assert ds.is_image and ds.shape == (1, 28, 28) and ds.modes is None
    x = ds.sample(500, gen(5), "cpu")
    assert x.shape == (500, 1, 28, 28) and x.dtype == torch.float32
    assert x.min() == -1 and x.max() == 1
    images, _ = mnist.load_bundled()
    s = mnist.split()
    as_bytes = np.rint((x.numpy()[:, 0] + 1) * 127.5).astype(np.uint8)
    np.testing.assert_allclose(as_bytes / 127.5 - 1, x.numpy()[:, 0], atol=1e-6)
    train = {images[i].tobytes() for i in s.train}
    held = {images[i].tobytes() for i in s.heldout}
    drawn = {b.tobytes() for b in as_bytes}
    assert drawn <= train and not drawn & held


# --- IDX files --------------------------------------------------------------------------------

def write_idx(path: Path, arr: np.ndarray, code: int = 0x08, compress: bool = False) -> None:
    """The IDX format: 0, 0, type code, ndim, then big-endian uint32 dims and big-endian data."""
    be = arr.astype(arr.dtype.newbyteorder(">"))
    data = bytes([0, 0, code, arr.ndim]) + b"".join(int(d).to_bytes(4, "big")
                                                    for d in arr.shape) + be.tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def small_mnist_dir(tmp_path: Path, compress: bool) -> dict:
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte": rng.integers(0, 10, 6, dtype=np.uint8),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, 3, dtype=np.uint8)}
    for name, arr in arrays.items():
        write_idx(tmp_path / (name + (".gz" if compress else "")), arr, compress=compress)
    return arrays


@pytest.mark.parametrize("compress", [False, True])
def test_idx_parser_reads_the_real_format(tmp_path, compress):
    arrays = small_mnist_dir(tmp_path, compress)
    got = mnist.load_idx_dir(tmp_path, verify=False)
    np.testing.assert_array_equal(got["train_images"], arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(got["train_labels"], arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(got["test_images"], arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(got["test_labels"], arrays["t10k-labels-idx1-ubyte"])
    assert got["train_images"].dtype == np.uint8


def test_idx_other_types_and_corruption(tmp_path):
    a = np.arange(-6, 6, dtype=np.int32).reshape(3, 4)
    write_idx(tmp_path / "i32", a, code=0x0C)
    np.testing.assert_array_equal(mnist.read_idx(tmp_path / "i32"), a)
    f = np.linspace(-1, 1, 10).astype(np.float32)
    write_idx(tmp_path / "f32", f, code=0x0D)
    np.testing.assert_array_equal(mnist.read_idx(tmp_path / "f32"), f)
    good = (tmp_path / "i32").read_bytes()
    (tmp_path / "short").write_bytes(good[:-3])
    with pytest.raises(ValueError, match=r"short: header says shape \(3, 4\).*truncated"):
        mnist.read_idx(tmp_path / "short")
    (tmp_path / "junk").write_bytes(b"PK\x03\x04rest")
    with pytest.raises(ValueError, match="junk: not an IDX file"):
        mnist.read_idx(tmp_path / "junk")


def test_idx_checksum_mismatch_names_file_and_sums(tmp_path):
    small_mnist_dir(tmp_path, compress=True)
    actual = hashlib.sha256((tmp_path / "train-images-idx3-ubyte.gz").read_bytes()).hexdigest()
    expected = mnist.IDX_FILES["train-images-idx3-ubyte"]["gz"]
    with pytest.raises(ValueError) as e:
        mnist.load_idx_dir(tmp_path)
    msg = str(e.value)
    assert msg.startswith("train-images-idx3-ubyte.gz: SHA-256 mismatch")
    assert f"expected {expected}, got {actual}" in msg and "download it again" in msg


def test_idx_missing_files(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="missing train-labels-idx1-ubyte, "
                                                "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte"):
        mnist.load_idx_dir(tmp_path)


def test_download_offline_fails_clearly(tmp_path):
    # Port 9 on localhost refuses connections at once: the same failure as being offline.
    with pytest.raises(mnist.DownloadError) as e:
        mnist.download_idx(tmp_path / "full", mirrors=("http://127.0.0.1:9/",), timeout=5)
    msg = str(e.value)
    assert "could not download train-images-idx3-ubyte.gz" in msg
    assert "http://127.0.0.1:9/train-images-idx3-ubyte.gz" in msg and "offline" in msg
    assert not list((tmp_path / "full").iterdir())       # no partial files left behind


def test_download_rejects_wrong_file(tmp_path):
    serve = tmp_path / "mirror"
    serve.mkdir()
    for name in mnist.IDX_FILES:
        (serve / f"{name}.gz").write_bytes(gzip.compress(b"not mnist"))

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(serve), **k)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        with pytest.raises(mnist.DownloadError, match="SHA-256 mismatch"):
            mnist.download_idx(tmp_path / "full", mirrors=(url,), timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert not list((tmp_path / "full").iterdir())


def test_a_dataset_kind_carries_its_shape_sizes_and_metrics():
    # The networks, the evaluation and the samples plot read the kind, not "is it MNIST".
    from gan_lab.data import KINDS, Dataset, register
    from gan_lab.trainer import Trainer

    def make(points):
        return Dataset("cube", is_image=False, shape=(3,), modes=None, std=None,
                       bounds=(-1, 1, -1, 1),
                       sampler=lambda n, gen, device: torch.rand(n, 3, generator=gen))

    register("cube", make, shape=(3,), n_eval=50, n_view=20,
             quality=lambda tr, fake: {"spread": float(fake.std())})
    try:
        cfg = RunConfig(dataset="cube", g_hidden=8, d_hidden=8, g_depth=1, d_depth=1,
                        batch_size=16, device="cpu")
        tr = Trainer(cfg)
        assert tr.G(torch.zeros(4, cfg.latent_dim)).shape == (4, 3)
        assert tr.run_steps(2).shape[0] == 2
        assert tr.view_samples().shape == (20, 3) and tr.z_eval.shape[0] == 50
        m = tr.evaluate()
        assert m["spread"] > 0 and "grid_kl" not in m
    finally:
        del KINDS["cube"]
