"""Reports: data in, text out. JUnit XML and Markdown of eval runs (``junit``,
``markdown``), the pull-request comment of ``loomgit ci`` (``pr_comment``, from the data
in ``ci_result``, with untrusted text made inert by ``escape``), and the HTML overview
(``html``, from the template in ``templates/``)."""
