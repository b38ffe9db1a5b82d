"""The standalone ArcGIS Notebook Server flavour: its Administrator API's runtimes.

The same furniture as the Kubernetes room (``runtimes/``): routes (views), model
(every rule, pure Python), backend (rules on the store), releases (10.7 to 11.5 as
data), forms (the directory's), and portal (what the federated Portal lists).
``mockserver/flavours.py`` wires it in; nothing in ``runtimes/`` knows it exists.
"""
