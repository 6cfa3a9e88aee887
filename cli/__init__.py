"""The ``mmimdb`` command line: thin click commands over the :mod:`mmimdb` library."""
