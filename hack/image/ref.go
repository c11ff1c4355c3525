package main

import (
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"
)

// placeholder is the image name config/manager/manager.yaml uses, which
// its kustomization replaces with the published reference.
const placeholder = "controller"

// deployedRef is the reference the install deploys: config/manager's images
// entry for the placeholder. Tagging the image with it is what makes the
// built image the one `kubectl apply -k config/default` runs.
func deployedRef(kustomization string) (name.Tag, error) {
	b, err := os.ReadFile(kustomization)
	if err != nil {
		return name.Tag{}, err
	}
	var k types.Kustomization
	if err := yaml.Unmarshal(b, &k); err != nil {
		return name.Tag{}, fmt.Errorf("reading %s: %w", kustomization, err)
	}
	for _, img := range k.Images {
		if img.Name != placeholder {
			continue
		}
		if img.NewName == "" || img.NewTag == "" || img.Digest != "" {
			return name.Tag{}, fmt.Errorf("%s: the %s image needs newName and newTag (a digest cannot name an image before it is built)", kustomization, placeholder)
		}
		return name.NewTag(img.NewName + ":" + img.NewTag)
	}
	return name.Tag{}, fmt.Errorf("%s has no images entry for %s", kustomization, placeholder)
}
