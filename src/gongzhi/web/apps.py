from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebConfig(AppConfig):
    name = "gongzhi.web"
    label = "web"
    verbose_name = _("网页")

    def ready(self) -> None:
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from gongzhi.web import layers

        # the cached map layers are rebuilt after any change to what they are made of
        for model in layers.LAYER_MODELS:
            post_save.connect(layers.invalidate, sender=model, dispatch_uid=f"web-layers-save-{model.__name__}")
            post_delete.connect(layers.invalidate, sender=model, dispatch_uid=f"web-layers-delete-{model.__name__}")
        m2m_changed.connect(layers.invalidate, sender=layers.reg.JointGovernanceZone.bureaus.through, dispatch_uid="web-layers-zone-bureaus")
