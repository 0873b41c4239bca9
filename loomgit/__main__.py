from loomgit.entry import run

run()
