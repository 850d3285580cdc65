"""``python -m rewardlab.cli`` runs the same entry point as the ``rewardlab`` script."""

from rewardlab.cli import main

main()
