"""``mmimdb benchmark``: train the GMU and the paper's baselines, write Table 2, Table 3, plots."""
from __future__ import annotations

from pathlib import Path

import click

from mmimdb.errors import UsageError
from mmimdb import paths
from mmimdb.paths import data_root
from mmimdb.storage import atomic, lock

from .options import folder_option, root_option, show_progress


@click.command("benchmark")
@click.option("--model", "model", default="gmu", show_default=True,
              help="Model name(s) of Table 2, comma-separated, or 'all' (see --list).")
@click.option("--dataset", type=click.Choice(["mmimdb", "synthetic"]), default="mmimdb", show_default=True,
              help="mmimdb: the HDF5 under the root; synthetic: the paper's section 5.1 experiment.")
@click.option("--search", type=click.IntRange(min=0), default=0, show_default=True,
              help="Random-search trials per model (paper: 25); 0 uses the paper's defaults.")
@click.option("--seeds", type=click.IntRange(min=1), default=None,
              help="Repeats of the chosen configuration, reported as mean ± std [mmimdb: 1; synthetic: 1000].")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="First seed.")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Most epochs per training [mmimdb: 200; synthetic: 600 full-batch steps].")
@click.option("--patience", type=click.IntRange(min=1), default=20, show_default=True,
              help="Stop after this many epochs without a better dev macro-F1.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="auto", show_default=True)
@root_option
@click.option("--hdf5", "hdf5_file", type=click.Path(dir_okay=False), default=None,
              help="Read this HDF5 (e.g. the original release's multimodal_imdb.hdf5) instead of ROOT's.")
@folder_option("--out", "out_dir", default=None, help="Where reports go [default: ROOT/benchmark].")
@click.option("--plugin", "plugins", type=click.Path(dir_okay=False), multiple=True,
              help="A Python file that registers more models (mmimdb.benchmark.models.register).")
@click.option("--text-features", default="features", show_default=True,
              help="HDF5 dataset that serves the text vector (e.g. glove_features for the offline encoder).")
@click.option("--image-features", default="vgg_features", show_default=True,
              help="HDF5 dataset that serves the image vector (e.g. efficientnet_features).")
@click.option("--probe", "probes", multiple=True,
              help="Add a linear-probe row (logistic regression, C chosen on dev) for these feature datasets, "
                   "e.g. minilm_features,clip_image_features, or 'all' (every encoder output in the file).")
@click.option("--missing-rate", default=None,
              help="Missing-modality run: comma-separated rates in [0, 1] (0 = complete data), e.g. 0,0.1,0.5,0.9; "
                   "writes OUT/missing-TYPE/missing_f1.{md,png}.")
@click.option("--missing-type", default="both", show_default=True, help="text|image|both (with --missing-rate).")
@click.option("--both-ratio", type=float, default=0.5, show_default=True,
              help="With --missing-type both: share of the missing movies that lose the poster.")
@click.option("--missing-seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the missing tables (the same as `mmimdb missing --seed`).")
@click.option("--ray", "ray", is_flag=False, flag_value="auto", default=None, metavar="[ADDRESS]",
              help="Train on a Ray cluster: auto (the running cluster, the default of a bare --ray), local (a private "
                   "one on this machine) or a cluster address; trials, seeds and models run at once. Needs mmimdb[ray].")
@click.option("--robustness", is_flag=True,
              help="MultiBench's robustness run: test macro/micro-F1 of each plot+poster model at 11 levels of missing "
                   "and noisy text and image, relative and effective robustness, 70% train-test mismatch; writes "
                   "OUT/robustness/robustness.{json,md,png}.")
@click.option("--threshold", type=click.Choice(["0.5", "dev"]), default="0.5", show_default=True,
              help="0.5: the paper's threshold; dev: also tune one threshold per genre on dev and report both.")
@click.option("--compare", "compare", multiple=True, metavar="A,B",
              help="Paired bootstrap over test movies of A's macro/micro-F1 minus B's (repeatable); "
                   "default with --seeds > 1: every model against the GMU.")
@click.option("--fresh", is_flag=True, help="Retrain models whose results from an identical run are saved.")
@click.option("--list", "list_models", is_flag=True, help="List the models and their inputs, then exit.")
def benchmark(model: str, dataset: str, search: int, seeds: int | None, seed: int, epochs: int | None,
              patience: int, device: str, root: str | None, hdf5_file: str | None, out_dir: str | None,
              plugins: tuple[str, ...], text_features: str, image_features: str, probes: tuple[str, ...],
              missing_rate: str | None, missing_type: str, both_ratio: float, missing_seed: int, ray: str | None,
              robustness: bool, threshold: str, compare: tuple[str, ...], fresh: bool,
              list_models: bool) -> None:
    """Train the GMU and the baselines of the paper's Table 2; write tables and plots.

    \b
    mmimdb benchmark --model gmu                 # the GMU, paper defaults
    mmimdb benchmark --model all --search 25     # the whole Table 2, with the paper's random search
    mmimdb benchmark --model all --seeds 5 --threshold dev   # mean ± std, tuned thresholds, bootstrap vs GMU
    mmimdb benchmark --dataset synthetic         # section 5.1, 1000 seeds
    mmimdb benchmark --model GMU,Linear_sum,Concatenate,AVG_probs --missing-rate 0,0.1,0.5,0.9
    mmimdb benchmark --model gmu --text-features minilm_features \
        --image-features clip_image_features --probe all    # today's encoders
    """
    from mmimdb.benchmark import models
    from mmimdb.device import resolve_device

    for plugin in plugins:
        models.load_plugin(plugin)
    if list_models:
        for spec in models.MODELS.values():
            click.echo(f"{spec.name:24s} {spec.modality:10s} {', '.join(spec.inputs + spec.shared) or '-'}")
        return
    out = Path(out_dir) if out_dir else data_root(root) / "benchmark"
    if ray is not None:
        from mmimdb.ray_cluster import import_ray

        import_ray()  # before any work
        if dataset == "synthetic":
            raise UsageError("--ray runs the mmimdb benchmark; the synthetic experiment runs locally")
    # With --ray the device is the workers' (auto: a GPU if the cluster has one), not this machine's.
    resolved = device if ray is not None and device == "auto" else resolve_device(device).type
    if out.is_dir():  # the tables, plots and saved runs a killed benchmark was writing (a live one's stay)
        atomic.remove_stale_temporaries(out, recursive=True)
    if dataset == "synthetic":
        from mmimdb.benchmark.reports import write_synthetic_reports
        from mmimdb.benchmark.synthetic import SyntheticConfig, run_figure7, run_synthetic

        config = SyntheticConfig(**({"epochs": epochs} if epochs else {}))
        result = run_synthetic(seeds=seeds or 1000, first_seed=seed, config=config, device=resolved, progress=show_progress())
        written = write_synthetic_reports(result, out, figure7=run_figure7(seed, config, resolved))
        click.echo(f"synthetic, {result['seeds']} seeds: GMU better {result['gmu_wins']}, tied {result['ties']}, "
                   f"worse {result['gmu_losses']}")
    else:
        from mmimdb.benchmark.data import BenchmarkData
        from mmimdb.benchmark.runner import RunSettings, run_benchmark
        from mmimdb.benchmark.reports import write_benchmark_reports

        names = [name for name in model.split(",") if name.strip()]
        if not names and not probes:
            raise UsageError("--model: give a model name or 'all'")
        path = Path(hdf5_file).expanduser() if hdf5_file else paths.hdf5_path(paths.data_root(root))
        if hdf5_file and not path.is_file():
            raise UsageError(f"--hdf5 {path}: no such file")
        if not path.is_file():
            raise UsageError(f"no dataset at {path}: build it with `mmimdb build` then `mmimdb build-features` "
                             "(or pass --hdf5 FILE)")
        if not hdf5_file:  # a root's HDF5: read under its lock, so no writer changes it meanwhile
            click.get_current_context().with_resource(lock.reading(paths.data_root(root), "mmimdb benchmark"))
        settings = RunSettings(search=search, seeds=seeds or 1, seed=seed, epochs=epochs or 200,
                               patience=patience, device=resolved, progress=show_progress(),
                               threshold=threshold, compare=tuple(compare))
        aliases = {name: stored for name, stored in (("features", text_features), ("vgg_features", image_features))
                   if stored != name}
        if missing_rate is not None and probes:
            raise UsageError("--probe adds rows to Table 2; it does not apply to a --missing-rate run")
        if missing_rate is not None:
            if ray is not None:
                raise UsageError("--ray runs the complete-data benchmark; run --missing-rate without --ray")
            from mmimdb.benchmark.missing import missing_markdown, parse_rates, run_missing_benchmark, write_missing_reports
            from mmimdb.dataset.missing import MissingSpec

            MissingSpec(1.0, missing_type, both_ratio, missing_seed)  # checks the type and ratio up front
            missing_out = out / f"missing-{missing_type}"
            results = run_missing_benchmark(path, aliases, names, settings, parse_rates(missing_rate), missing_type,
                                            both_ratio, missing_seed, out=missing_out, fresh=fresh)
            click.echo(missing_markdown(results))
            for written_path in write_missing_reports(results, missing_out):
                click.echo(f"wrote {written_path}")
            return
        if robustness:
            if missing_rate is not None or probes or ray is not None:
                raise UsageError("--robustness is a run of its own: without --missing-rate, --probe or --ray")
            from mmimdb.benchmark.robustness import run_robustness, write_robustness_reports

            results = run_robustness(BenchmarkData(path, aliases), names, settings, missing_seed, both_ratio,
                                     log=lambda message: click.echo(message, err=True))
            for model in results["models"].values():
                rr = model["relative_robustness"]
                click.echo(f"{model['label']:24s} complete macro-F1 {model['complete']['macro']:.3f}; relative robustness "
                           f"missing text {rr['missing']['text']:.3f} image {rr['missing']['image']:.3f}, "
                           f"noise text {rr['noise']['text']:.3f} image {rr['noise']['image']:.3f}")
            for written_path in write_robustness_reports(results, out / "robustness"):
                click.echo(f"wrote {written_path}")
            return
        if compare:
            from mmimdb.benchmark.runner import check_comparisons

            check_comparisons(compare, names)  # before any training
        from mmimdb.benchmark.provenance import stale_results

        earlier = stale_results(out / "results.json", path)
        if earlier:  # the old tables and plots are replaced below; say so rather than mix builds silently
            click.echo(f"note: {earlier}; this run replaces its tables and plots", err=True)
        data = BenchmarkData(path, aliases)
        if probes:
            from mmimdb.benchmark.models.probe import register_probes

            names += register_probes([p.strip() for value in probes for p in value.split(",") if p.strip()], data)
        if ray is not None:
            from mmimdb.benchmark.ray_runner import run_benchmark_ray
            from mmimdb.ray_cluster import cluster

            with cluster(ray, lambda message: click.echo(message, err=True)) as connected:
                results = run_benchmark_ray(connected, data, names, settings, runs_dir=out / "runs", fresh=fresh)
        else:
            results = run_benchmark(data, names, settings, runs_dir=out / "runs", fresh=fresh)
        written = write_benchmark_reports(results, out)
        reused = [result.get("label", name) for name, result in results["models"].items() if result.get("reused")]
        if reused:
            click.echo(f"reused {len(reused)} saved model(s) of an identical earlier run from {out / 'runs'} "
                       f"({', '.join(reused)}); --fresh trains them again", err=True)
        from mmimdb.benchmark.qualitative import write_qualitative

        written += write_qualitative(results, out, data.split("test").labels, paths.data_root(root))
        for name, result in results["models"].items():
            label = result.get("label", name)
            if result["status"] == "ok":
                f1 = result["test"]["f1"]
                click.echo(f"{label:24s} test F1 weighted {f1['weighted']['mean']:.3f} samples {f1['samples']['mean']:.3f} "
                           f"micro {f1['micro']['mean']:.3f} macro {f1['macro']['mean']:.3f}")
            else:
                click.echo(f"{label:24s} skipped: {result['reason']}")
    for path in written:
        click.echo(f"wrote {path}")
