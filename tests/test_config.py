import typing

import pytest
import yaml
from pydantic import BaseModel

from climemu.config import ConfigError, Params, load_params, parse_params
from climemu.core.config import Strict
from tests.helpers import PARAMS_FILE, params, raw_params


def test_committed_params_are_valid():
    p = load_params(PARAMS_FILE)
    assert p.lead >= 1 and p.data.source == "synthetic"


def test_committed_params_mirror_the_paper_grid():
    p = load_params(PARAMS_FILE)
    assert (p.data.box.lat_max - p.data.box.lat_min, p.data.box.lon_max - p.data.box.lon_min) == (70, 125)
    assert p.data.n_months == 9600   # 800 years, model years 0401-1200


def _all_sections(cls=Strict) -> list[type[Strict]]:
    subs = cls.__subclasses__()
    return subs + [s for sub in subs for s in _all_sections(sub)]


def test_no_config_field_has_a_default():
    # params.yaml is the only place defaults live: a default in a model would be a second one.
    sections = _all_sections()
    assert Params in sections and len(sections) >= 15
    with_default = [f"{cls.__name__}.{name}" for cls in sections
                    for name, field in cls.model_fields.items() if not field.is_required()]
    assert not with_default, f"fields with a default (put the value in params.yaml): {with_default}"


def _model_of(annotation) -> type[BaseModel] | None:
    """The section model a field holds, directly or as the items of a list."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if (model := _model_of(arg)) is not None:
            return model
    return None


def _keys_against_fields(raw, model: type[BaseModel], where: str) -> list[str]:
    """Keys of ``raw`` that are not fields of ``model``, and fields ``raw`` lacks, at any depth."""
    if isinstance(raw, list):
        return [p for i, item in enumerate(raw) for p in _keys_against_fields(item, model, f"{where}.{i}")]
    problems = [f"{where}.{k}: not a field" for k in raw if k not in model.model_fields]
    problems += [f"{where}.{k}: missing" for k in model.model_fields if k not in raw]
    for key, value in raw.items():
        annotation = model.model_fields[key].annotation if key in model.model_fields else None
        sub = _model_of(annotation) if annotation is not None else None
        if sub is not None and typing.get_origin(annotation) is dict and isinstance(value, dict):
            # a mapping of names to sections (controls.pairs): each value is one section
            problems += [p for name, item in value.items()
                         for p in _keys_against_fields(item, sub, f"{where}.{key}.{name}")]
        elif sub is not None and isinstance(value, (dict, list)):
            problems += _keys_against_fields(value, sub, f"{where}.{key}")
    return problems


def test_every_key_of_params_yaml_is_a_field_and_every_field_a_key():
    assert _keys_against_fields(raw_params(), Params, "params.yaml") == []


def test_a_missing_key_is_named():
    raw = raw_params()
    del raw["window"]["n_val"]
    with pytest.raises(ConfigError) as err:
        parse_params(raw)
    assert "  window.n_val: Field required" in str(err.value)


@pytest.mark.parametrize("raw, key, words", [
    ({"lead": 0}, "lead", "greater than or equal to 1"),
    ({"window": {"n_train": 10, "n_tran": 5}}, "window.n_tran", "unknown key"),
    ({"bogus": 1}, "bogus", "unknown key"),
    ({"data": {"box": {"lat_min": -95, "lat_max": 10, "lon_min": 0, "lon_max": 10}}},
     "data.box.lat_min", "greater than or equal to -90"),
    ({"data": {"box": {"lat_min": 20, "lat_max": 10, "lon_min": 0, "lon_max": 10}}},
     "data.box", "lat_min (20.0) must be below lat_max"),
    ({"data": {"source": "ftp"}}, "data.source", "'synthetic'"),
    ({"data": {"synthetic": {"persistence": 0.95, "tele_gain": 0.06}}}, "data.synthetic",
     "must be < 1"),
    ({"model": {"upsample": "cubic"}}, "model.upsample", "'nearest'"),
    ({"data": {"resolution": 0.7}}, "data", "not a multiple of resolution"),
    # the allowed names come from the registries (climemu.models, climemu.attribution.methods)
    ({"model": {"arch": "resnet"}}, "model.arch", "unknown architecture 'resnet'; allowed: densenet, densenet_fnn"),
    ({"explain": {"methods": ["deeplift", "lime"]}}, "explain.methods.1",
     "unknown attribution method 'lime'; allowed: deeplift, integrated_gradients, guided_backprop"),
    ({"explain": {"group_method": "gradcam"}}, "explain.group_method", "allowed: deeplift,"),
    ({"explain": {"group_cells": [{"name": "x", "lat": 5.0, "lon": -30.0}]}}, "(top level)",
     "explain.group_cells.0 (x: 5.0, -30.0) lies outside data.box"),
    ({"explain": {"instance_cells": [{"name": "A", "lat": 50, "lon": -30}, {"name": "A", "lat": 40, "lon": -30}]}},
     "explain", "cell names must be unique"),
    ({"ablate": {"box": {"lat_min": 0, "lat_max": 5, "lon_min": -30, "lon_max": -20}}}, "(top level)",
     "ablate.box"),
    # 40.6..40.9 lies between the cell centres 40.5 and 41.5: an empty ablation box
    ({"ablate": {"box": {"lat_min": 40.6, "lat_max": 40.9, "lon_min": -30, "lon_max": -20}}},
     "(top level)", "holds no grid cell centre"),
    ({"window": {"n_train": 512}, "explain": {"instance_sample": 512}}, "(top level)",
     "must be below window.n_train"),
    ({"data": {"years": [1200, 401]}}, "data", "years: last year 401 is before first year 1200"),
    ({"data": {"years": [401]}}, "data.years", "at least 2 items"),
    ({"data": {"first_year": 401}}, "data.first_year", "unknown key"),
    ({"data": {"source": "local"}}, "data", "paths: data.source 'local' needs a glob"),
    ({"data": {"esgf": {"index_nodes": ["ftp://x"]}}}, "data.esgf", "must be http(s) URLs"),
    ({"data": {"esgf": {"timeout_s": 0}}}, "data.esgf.timeout_s", "greater than 0"),
    ({"data": {"pangeo": {"url": "x"}}}, "data.pangeo.url", "unknown key"),
    ({"sanity": {"cell": "nowhere"}}, "(top level)", "sanity.cell 'nowhere' is not among explain.group_cells"),
    ({"score": {"n_steps": 1}}, "score.n_steps", "greater than or equal to 2"),
    ({"report": {"sanity_rank_max": 1.5}}, "report.sanity_rank_max", "less than or equal to 1"),
])
def test_bad_params_name_the_key(raw, key, words):
    with pytest.raises(ConfigError) as err:
        params(raw)
    msg = str(err.value)
    assert f"  {key}:" in msg and words in msg, msg


def test_real_sources_ignore_the_synthetic_boxes():
    # the planted boxes lie outside this box, which only the synthetic source would mind
    box = {"lat_min": 0.0, "lat_max": 10.0, "lon_min": 340.0, "lon_max": 350.0}
    raw = {"data": {"source": "local", "paths": "/x/*.nc", "box": box},
           "explain": {"instance_cells": [{"name": "A", "lat": 5.5, "lon": 345.5}],
                       "group_cells": [{"name": "B", "lat": 5.5, "lon": 345.5}]},
           "ablate": {"box": {"lat_min": 4.0, "lat_max": 6.0, "lon_min": 344.0, "lon_max": 346.0}}}
    assert params(raw).data.years == [401, 1200]
    with pytest.raises(ConfigError, match="synthetic.source_box"):
        params({**raw, "data": {**raw["data"], "source": "synthetic"}})


def test_load_params_reports_the_file(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"lead": -3}))
    with pytest.raises(ConfigError, match=str(path)):
        load_params(path)


def test_a_missing_or_broken_params_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"params.yaml not found in .*: run the stages from the repository root"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("lead: [1\nseed: 0\n")
    with pytest.raises(ConfigError, match=r"is not valid YAML: .*line \d+"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping of sections"):
        load_params(tmp_path / "params.yaml")


def test_an_experiments_overrides_must_give_a_valid_file():
    from climemu.config import ConfigError, check_experiments, parse_params, with_overrides
    import yaml
    raw = yaml.safe_load(open("params.yaml"))
    assert with_overrides(raw, {"score.max_samples": 3})["score"]["max_samples"] == 3
    assert raw["score"]["max_samples"] == yaml.safe_load(open("params.yaml"))["score"]["max_samples"]
    with pytest.raises(ValueError, match="scor.max_samples: no such key"):
        with_overrides(raw, {"scor.max_samples": 3})
    check_experiments(raw, parse_params(raw))                               # the committed file's hold
    bad = {**raw, "judges": {"set": {"faithfulness.max_samples": 0}}}
    with pytest.raises(ConfigError, match="judges.set gives an invalid file"):
        check_experiments(bad, parse_params(bad))
    typo = {**raw, "judges": {"set": {"explain.method": ["deeplift"]}}}
    with pytest.raises(ConfigError, match="explain.method: no such key"):
        check_experiments(typo, parse_params(typo))
