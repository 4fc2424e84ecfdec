"""POP909-valid windows of four songs, shared by the evaluation tests (built once per session)."""

import pytest

from diffbgm.evaluation.eval_windows import select_eval_windows
from diffbgm.music.dataset import WindowStore, build_pop909

VALID_SONGS = ["001", "005", "026", "040"]


@pytest.fixture(scope="session")
def valid_songs() -> list[str]:
    return list(VALID_SONGS)


@pytest.fixture(scope="session")
def valid_store(tmp_path_factory, pop909_root, structure_root, split_file):
    out = tmp_path_factory.mktemp("pop909_valid")
    build_pop909(pop909_root, structure_root, split_file, out, songs=VALID_SONGS, workers=1, progress=False)
    return WindowStore(out, split="valid")


@pytest.fixture(scope="session")
def eval_windows(valid_store):
    return select_eval_windows(valid_store, n=12, seed=0)
