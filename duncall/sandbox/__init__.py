"""The embedded Asterisk 22 sandbox: a Debian sid chroot outside the repository.

Debian 12 has no Asterisk package and these machines have no container engine,
so the demo and the tests run Asterisk 22 from a minimal sid chroot kept under
``foundation.paths.home()/asterisk/root``.  It is a cache, built once and reused;
its configuration comes from ``asterisk-config/`` plus files generated here
(ARI credentials, the personas' dialplan and audio).  Production users run
Asterisk their own way (see docker-compose.yml) and point DUNCALL_ARI_URL at it.
"""
