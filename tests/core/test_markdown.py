from app.core.markdown import pygments_css, render, render_inline


def test_raw_html_and_script_links_never_survive() -> None:
    html = str(
        render("Hi <script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))")
    )
    assert "<script" not in html and "<img" not in html
    assert 'href="javascript' not in html


def test_code_blocks_are_highlighted_by_pygments() -> None:
    html = str(render("```python\nimport torch\n```"))
    assert '<pre class="highlight"><code class="language-python">' in html
    assert '<span class="kn">import</span>' in html


def test_safe_links_get_noopener() -> None:
    html = str(render("[docs](https://pytorch.org)"))
    assert 'href="https://pytorch.org"' in html and "noopener" in html


def test_inline_rendering_drops_the_paragraph() -> None:
    assert str(render_inline("It `runs`")) == "It <code>runs</code>"


def test_code_styles_follow_the_system_theme() -> None:
    css = pygments_css()
    assert ".highlight" in css and "prefers-color-scheme: dark" in css
