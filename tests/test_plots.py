"""Plot titles stay inside the figure: a data set's path or a long space name is wrapped."""

from stitchnas.plots import pyplot, wrap_title


def test_a_long_title_is_wrapped_to_fit_inside_the_figure():
    title = ("my_mnv3: every candidate measured on imagefolder(/home/someone/data/flowers102/images):"
             "val (FLOPs-aware training)")
    plt = pyplot()
    for width in (5.5, 7.0):
        fig, ax = plt.subplots(figsize=(width, 4.5), dpi=120)
        try:
            ax.plot([0, 1], [0, 1], label="x")
            from stitchnas.plots import _label

            _label(ax, "MFLOPs", "top-1 accuracy (%)", title, "lower right")
            fig.tight_layout()
            fig.canvas.draw()
            box = ax.title.get_window_extent()
            assert 0 <= box.x0 and box.x1 <= fig.bbox.width, (width, box)
            assert "".join(ax.title.get_text().split()) == "".join(title.split())  # nothing lost
        finally:
            plt.close(fig)
    assert wrap_title("short", 7.0, 10) == "short"
    assert wrap_title("a\nb", 7.0, 10) == "a\nb"  # the caller's own line breaks stay


def test_the_predictions_plot_names_a_predicted_series_only_when_something_is_predicted(monkeypatch):
    import stitchnas.plots as plots

    legends = []
    real = plots.png_bytes

    def keep(fig):
        legends.append([t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts()])
        return real(fig)

    monkeypatch.setattr(plots, "png_bytes", keep)
    flops, mean, anchors = [1e6, 2e6, 3e6], [70.0, 72.0, 75.0], [True, False, True]
    png = plots.prediction_png(flops, mean, [0.0, 0.0, 0.0], {0: 70.0, 1: 72.0, 2: 75.0}, anchors)
    assert png[:4] == b"\x89PNG"
    plots.prediction_png(flops, mean, [0.0, 1.5, 0.0], {0: 70.0, 2: 75.0}, anchors)
    assert [sorted(names) for names in legends] == [
        ["anchors", "measured (3)"], ["anchors", "measured (2)", "predicted (1), bars: one std"]]


def test_anchor_labels_of_a_tradeoff_plot_stay_inside_the_panel(monkeypatch, tmp_path):
    """The study's measured front: the largest anchor sits at the right edge, and its name ran
    past the panel's frame."""
    from stitchnas import plots

    seen = {}

    def keep(plt, fig, ax, path, title, xlabel, ylabel, legend_loc="best"):
        fig.canvas.draw()
        panel = ax.get_window_extent()
        seen["boxes"] = [(t.get_text(), t.get_window_extent(), panel) for t in ax.texts]
        plt.close(fig)
        return path

    monkeypatch.setattr(plots, "_save", keep)
    plots.plot_tradeoff(tmp_path / "f.png", [0.94, 1.6, 2.3, 2.96, 3.55], [22.8, 23.1, 26.4, 33.9, 36.4],
                        [True, False, False, False, True], ["s[0:4]", "a", "b", "c", "l[0:4]"])
    assert [text for text, _, _ in seen["boxes"]] == ["s[0:4]", "l[0:4]"]
    for text, box, panel in seen["boxes"]:
        assert panel.x0 <= box.x0 and box.x1 <= panel.x1, (text, box, panel)
