"""The plugin contract: the interfaces a plugin implements (:mod:`.interfaces`), the hooks it
answers (:mod:`.hookspecs`), the recipes it registers (:mod:`.recipe`), the registry of kinds
(:mod:`.registry`), creating an entry with checked options (:mod:`.components`), and how installed plugins are found (:mod:`.discovery`) and loaded (:mod:`.plugins`)."""
